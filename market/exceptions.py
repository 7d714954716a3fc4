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


class BuyOrderNotFound(NotFound):
    code = "buy_order_not_found"
    default_message = "No such buy order."


class InvalidBuyOrder(InvalidInput):
    code = "invalid_buy_order"
    default_message = "The buy order is not valid."


class TooManyOpenBuyOrders(Conflict):
    code = "too_many_open_buy_orders"
    default_message = "You have too many open buy orders."


class BuyOrderNotOpen(Conflict):
    code = "buy_order_not_open"
    default_message = "The buy order is no longer open."


class WouldTradeWithSelf(Conflict):
    code = "would_trade_with_self"
    default_message = "This order would fill against one of your own; cancel that one first."
