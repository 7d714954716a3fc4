"""The test suite's settings: the development configuration, asked for explicitly since DEBUG is off by default.

pytest-django still runs the tests with DEBUG off; this only lets the settings load with development secrets
and the per-process cache. Tests of the production configuration run `manage.py` in a subprocess.
"""

import os

os.environ.setdefault("DEBUG", "1")

from backpack_site.settings import *  # noqa: F403

# The tests' webhook receivers listen on this machine.
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
