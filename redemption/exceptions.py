from core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests


class InvalidCodeFormat(InvalidInput):
    code = "invalid_code_format"
    default_message = "This is not a redemption code: 12 characters, like ABCD-EFGH-JKMN."


class CodeTypo(InvalidInput):
    code = "code_typo"
    default_message = "The code has a typo: check every character and try again."


class CodeNotFound(NotFound):
    code = "code_not_found"
    default_message = "No order has this code."


class CodeExpired(Conflict):
    code = "code_expired"
    default_message = "The code has expired."


class CodeAlreadyUsed(Conflict):
    code = "code_already_used"
    default_message = "The code was already used."


class CodeCancelled(Conflict):
    code = "code_cancelled"
    default_message = "The code was cancelled: its owner cancelled it or asked for a new one."


class WrongMerchant(Forbidden):
    code = "wrong_merchant"
    default_message = "This item can only be redeemed at another merchant."


class NotMerchantStaff(Forbidden):
    code = "not_merchant_staff"
    default_message = "You are not staff of an active merchant."


class TooManyAttempts(TooManyRequests):
    code = "too_many_attempts"
    default_message = "Too many failed attempts; try again later."


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "No such redemption order."


class OrderNotPending(Conflict):
    code = "order_not_pending"
    default_message = "The order is no longer pending."


class ItemNotRedeemable(Conflict):
    code = "item_not_redeemable"
    default_message = "This item cannot be redeemed."
