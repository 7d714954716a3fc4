#!/usr/bin/env bash
# Debian packages the build and the tests need, installed when missing and we are root;
# otherwise the exact command is printed.
#  - mysqlclient compiles against the MariaDB client headers, found through pkg-config.
#  - the browser tests (tests/browser) drive Debian's Chromium through its chromedriver.
#  - the cluster tests (tests/cluster, scripts/cluster.py) run a Galera cluster behind haproxy, whose
#    state transfers use mariabackup streamed through socat.
set -euo pipefail
missing=()
if ! pkg-config --exists libmariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then
  missing+=(libmariadb-dev pkg-config)
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  missing+=(chromium chromium-driver)
fi
if [ ! -e /usr/lib/galera/libgalera_smm.so ]; then
  missing+=(galera-4)
fi
for tool in haproxy mariadb-backup socat; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    missing+=("$tool")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]}: $cmd"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif [[ " ${missing[*]} " == *" libmariadb-dev "* ]]; then
  echo "mysqlclient needs the MariaDB client headers. Run as root: $cmd" >&2
  exit 1
else
  echo "The browser and cluster tests need ${missing[*]} and will be skipped without them. Run as root: $cmd" >&2
fi
