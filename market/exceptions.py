from core.errors import Conflict, InvalidInput, NotFound


class ListingNotFound(NotFound):
    code = "listing_not_found"
    default_message = "No such listing."


class InvalidListing(InvalidInput):
    code = "invalid_listing"
    default_message = "The listing is not valid."


class AssetNotTradable(Conflict):
    code = "asset_not_tradable"
    default_message = "This asset cannot be traded on the market."


class TooManyOpenListings(Conflict):
    code = "too_many_open_listings"
    default_message = "You have too many listings on sale."


class ListingNotOnSale(Conflict):
    code = "listing_not_on_sale"
    default_message = "The listing is no longer on sale."


class CannotBuyOwnListing(Conflict):
    code = "cannot_buy_own_listing"
    default_message = "You cannot buy your own listing."


class QuantityExceedsRemaining(Conflict):
    code = "quantity_exceeds_remaining"
    default_message = "The listing has less left than the quantity asked for."
