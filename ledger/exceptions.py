from core.errors import Conflict, InvalidInput, NotFound
from core.errors import IdempotencyConflict as IdempotencyConflict  # the one class of its code, re-exported


class InvalidEntry(InvalidInput):
    code = "invalid_entry"
    default_message = "The journal entry is not valid."


NO_SUCH_ASSET = "No asset has this code."


class UnknownAsset(InvalidInput):
    """An asset code given in a request's body or query that the catalog does not have: 400."""

    code = "unknown_asset"
    default_message = NO_SUCH_ASSET


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "No such account."


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    default_message = "The available balance is too low."


class HoldNotOpen(Conflict):
    code = "hold_not_open"
    default_message = "The hold is already settled or released."


class HoldAmountExceeded(Conflict):
    code = "hold_amount_exceeded"
    default_message = "The amount is more than the hold has left."


class IssuanceLimitExceeded(Conflict):
    code = "issuance_limit_exceeded"
    default_message = "The grant is over the issuer's limit for this asset; nothing was granted."


class AssetNotFound(NotFound):
    """The asset a URL names (`assets/{code}`) is not in the catalog: 404. Other apps' services, whose callers
    give the code as a field, re-raise it as UnknownAsset."""

    code = "asset_not_found"
    default_message = NO_SUCH_ASSET
