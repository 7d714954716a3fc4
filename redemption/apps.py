from django.apps import AppConfig


class RedemptionConfig(AppConfig):
    name = "redemption"

    def ready(self):
        from items.locks import REDEMPTION_HOLDER
        from items.services import holder_expiry_register
        from redemption.services import order_expire_for_item

        holder_expiry_register(REDEMPTION_HOLDER, order_expire_for_item)
