from core.errors import Conflict, InvalidInput, NotFound


class InvalidGift(InvalidInput):
    code = "invalid_gift"
    default_message = "The gift is not valid."


class RecipientNotFound(NotFound):
    """The same answer for a username nobody has and for a user who cannot receive gifts: a probe learns nothing."""

    code = "recipient_not_found"
    default_message = "This gift cannot be sent to that recipient."


class CannotGiftToSelf(Conflict):
    code = "cannot_gift_to_self"
    default_message = "You cannot send a gift to yourself."


class AssetNotGiftable(Conflict):
    code = "asset_not_tradable"
    default_message = "This asset cannot be given."


class GiftLimitExceeded(Conflict):
    code = "gift_limit_exceeded"
    default_message = "You have reached today's gift limit."


class RecipientIsServiceAccount(Conflict):
    """A prize issuer's account (core.authority.is_service_account) only grants: nobody gives it anything."""

    code = "recipient_is_service_account"
    default_message = "Gifts go to customers: this account is a service's."
