"""The one shape of a reconciliation finding, used by the nightly checks and the migration's."""


def discrepancy(check: str, *, expected, actual, **key) -> dict:
    """{"check": name, ...what identifies the rows..., "expected": ..., "actual": ...}, ready for JSON."""
    return {"check": check, **key, "expected": expected, "actual": actual}
