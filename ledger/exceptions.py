from core.errors import Conflict, InvalidInput, NotFound


class InvalidEntry(InvalidInput):
    code = "invalid_entry"
    default_message = "The journal entry is not valid."


class UnknownAsset(InvalidInput):
    code = "unknown_asset"
    default_message = "No asset has this code."


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "No such account."


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    default_message = "The available balance is too low."


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = "This business key was already used for a different request."


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
    code = "asset_not_found"
    default_message = "No asset has this code."
