from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"

    def ready(self):
        from items.locks import MARKET_HOLDER
        from items.services import holder_expiry_register
        from ledger.selectors import entry_parties_register
        from market.models import FILL_BUSINESS_TYPE
        from market.selectors import trade_parties
        from market.services import PURCHASE_BUSINESS_TYPE, listing_expire_for_item

        holder_expiry_register(MARKET_HOLDER, listing_expire_for_item)
        entry_parties_register(PURCHASE_BUSINESS_TYPE, trade_parties)
        entry_parties_register(FILL_BUSINESS_TYPE, trade_parties)
