"""Start-up checks of what the code relies on but cannot see in a model."""

from django.conf import settings
from django.core import checks

# The plain INSERTs of core.db (idempotency claims, journal entries, trades) go on after a failed INSERT
# without a savepoint: on MariaDB/MySQL and SQLite a failed statement undoes only itself. PostgreSQL aborts
# the whole transaction instead, so those paths would fail or, worse, commit half a write. Refuse it.
SUPPORTED_ENGINES = frozenset({"django.db.backends.mysql", "django.db.backends.sqlite3"})


@checks.register(checks.Tags.compatibility)
def database_engines_supported(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"DATABASES[{alias!r}] uses {config['ENGINE']}, which this project does not support",
            hint="Use MariaDB/MySQL (or SQLite for development): a failed INSERT must undo only itself (core/checks.py).",
            id="core.E001",
        )
        for alias, config in settings.DATABASES.items()
        if config.get("ENGINE") not in SUPPORTED_ENGINES
    ]
