"""Exit 0 when the test database server answers, else say so in one line and exit 1."""

import os
import sys
import time

import dj_database_url
import MySQLdb

url = os.environ["DATABASE_URL"]
config = dj_database_url.parse(url)
deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 0)
while True:
    try:
        MySQLdb.connect(
            host=config["HOST"] or "127.0.0.1",
            port=int(config["PORT"] or 3306),
            user=config["USER"],
            password=config["PASSWORD"] or "",
            connect_timeout=3,
        ).close()
        sys.exit(0)
    except MySQLdb.Error as exc:
        if time.monotonic() >= deadline:
            host = f"{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 3306}"
            print(
                f"MariaDB is not reachable at {host} ({exc.args[-1]}); start it or set DATABASE_URL.", file=sys.stderr
            )
            sys.exit(1)
        time.sleep(1)
