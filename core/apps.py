from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The lowest floor: errors, API plumbing, db and admin helpers. It imports no other app."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core import checks  # noqa: F401 (registers the start-up checks)
