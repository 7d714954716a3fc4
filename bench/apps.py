from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The top floor beside backpack_site: commands that build scratch data and time every app; nothing imports it."""

    name = "bench"
