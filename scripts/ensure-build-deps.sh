#!/usr/bin/env bash
# mysqlclient compiles against the MariaDB client headers, found through pkg-config.
# Installs them when missing and we are root; otherwise prints the exact command.
set -euo pipefail
if pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then
  exit 0
fi
cmd="apt-get update && apt-get install -y libmariadb-dev pkg-config"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing the MariaDB client headers for mysqlclient: $cmd"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
else
  echo "mysqlclient needs the MariaDB client headers. Run as root: $cmd" >&2
  exit 1
fi
