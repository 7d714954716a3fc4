from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The lowest floor: errors, API plumbing, db and admin helpers. It imports no other app."""

    name = "core"
    verbose_name = "Core"
