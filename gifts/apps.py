from django.apps import AppConfig


class GiftsConfig(AppConfig):
    """Gifts between customers and the activity feed: on the floor of market and redemption, above items and ledger."""

    name = "gifts"
