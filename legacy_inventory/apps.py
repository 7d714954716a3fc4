from django.apps import AppConfig


class LegacyInventoryConfig(AppConfig):
    name = "legacy_inventory"
