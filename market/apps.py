from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"

    def ready(self):
        from items.locks import MARKET_HOLDER
        from items.services import holder_expiry_register
        from market.services import listing_expire_for_item

        holder_expiry_register(MARKET_HOLDER, listing_expire_for_item)
