from django.apps import AppConfig


class ItemsConfig(AppConfig):
    name = "items"

    def ready(self):
        from items import checks  # noqa: F401 (registers the start-up checks)
