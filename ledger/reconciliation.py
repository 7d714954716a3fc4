"""Proof that the books balance: whole-ledger checks in aggregate SQL, one statement each.

Each check returns discrepancies in the shape of core.reconciliation.discrepancy.
The SQL is plain enough for MySQL/MariaDB, TiDB and SQLite.
"""

from django.db import connection

from core.reconciliation import discrepancy
from ledger.models import Account, Balance, Hold, HoldStatus, JournalLeg

BALANCES = Balance._meta.db_table
LEGS = JournalLeg._meta.db_table
HOLDS = Hold._meta.db_table
ACCOUNTS = Account._meta.db_table


def sql_rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def leg_sums(where: str = "") -> str:
    """SQL of the legs (those `where` picks) summed per account and asset: account_id, asset_code, available,
    frozen."""
    return (
        f"SELECT account_id, asset_code, SUM(delta_available) AS available, SUM(delta_frozen) AS frozen FROM {LEGS}"
        f"{f' WHERE {where}' if where else ''} GROUP BY account_id, asset_code"
    )


def rows_against_legs(check: str, *, table: str, available: str, frozen: str, legs_where: str = "") -> list[dict]:
    """`check`'s discrepancies: each row of `table` (by account_id, asset_code) whose `available` and `frozen`
    columns differ from its legs' sums (`leg_sums(legs_where)`), and each sum that is not zero but has no row."""
    journal = leg_sums(legs_where)
    rows = sql_rows(
        f"""SELECT r.account_id, r.asset_code, COALESCE(j.available, 0), COALESCE(j.frozen, 0),
                   r.{available}, r.{frozen}
            FROM {table} r LEFT JOIN ({journal}) j ON j.account_id = r.account_id AND j.asset_code = r.asset_code
            WHERE r.{available} <> COALESCE(j.available, 0) OR r.{frozen} <> COALESCE(j.frozen, 0)
            UNION ALL
            SELECT j.account_id, j.asset_code, j.available, j.frozen, 0, 0
            FROM ({journal}) j LEFT JOIN {table} r ON r.account_id = j.account_id AND r.asset_code = j.asset_code
            WHERE r.id IS NULL AND (j.available <> 0 OR j.frozen <> 0)"""
    )
    return [
        discrepancy(
            check,
            account_id=a,
            asset_code=c,
            expected={"available": int(ja), "frozen": int(jf)},
            actual={"available": int(ra), "frozen": int(rf)},
        )
        for a, c, ja, jf, ra, rf in rows
    ]


def balances_match_journal() -> list[dict]:
    """Every balance row equals the sum of its legs, available and frozen apart (and no legs lack a row)."""
    return rows_against_legs(
        "balance_matches_journal", table=BALANCES, available="available_amount", frozen="frozen_amount"
    )


def assets_sum_to_zero() -> list[dict]:
    """Per asset, the total over every account is zero (issuance is negative by what circulates)."""
    rows = sql_rows(
        f"""SELECT asset_code, SUM(available_amount + frozen_amount) FROM {BALANCES}
            GROUP BY asset_code HAVING SUM(available_amount + frozen_amount) <> 0"""
    )
    return [discrepancy("asset_sums_to_zero", asset_code=c, expected=0, actual=int(total)) for c, total in rows]


def holds_match_frozen() -> list[dict]:
    """Open holds add up to the frozen amount of each balance."""
    holds = f"""SELECT account_id, asset_code, SUM(remaining) AS remaining FROM {HOLDS}
                WHERE status = %s GROUP BY account_id, asset_code"""
    rows = sql_rows(
        f"""SELECT b.account_id, b.asset_code, COALESCE(h.remaining, 0), b.frozen_amount
            FROM {BALANCES} b LEFT JOIN ({holds}) h ON h.account_id = b.account_id AND h.asset_code = b.asset_code
            WHERE b.frozen_amount <> COALESCE(h.remaining, 0)
            UNION ALL
            SELECT h.account_id, h.asset_code, h.remaining, 0
            FROM ({holds}) h LEFT JOIN {BALANCES} b ON b.account_id = h.account_id AND b.asset_code = h.asset_code
            WHERE b.id IS NULL""",
        [HoldStatus.OPEN, HoldStatus.OPEN],
    )
    return [
        discrepancy("open_holds_match_frozen", account_id=a, asset_code=c, expected=int(remaining), actual=int(frozen))
        for a, c, remaining, frozen in rows
    ]


def entries_balance() -> list[dict]:
    """Every journal entry's legs sum to zero per asset."""
    rows = sql_rows(
        f"""SELECT entry_id, asset_code, SUM(delta_available + delta_frozen) FROM {LEGS}
            GROUP BY entry_id, asset_code HAVING SUM(delta_available + delta_frozen) <> 0"""
    )
    return [discrepancy("entry_balances", entry_id=e, asset_code=c, expected=0, actual=int(net)) for e, c, net in rows]


def user_balances_not_negative() -> list[dict]:
    """No user balance is negative, and only system accounts' rows may go negative at all."""
    rows = sql_rows(
        f"""SELECT b.account_id, b.asset_code, b.available_amount, b.frozen_amount, b.allows_negative
            FROM {BALANCES} b JOIN {ACCOUNTS} a ON a.id = b.account_id
            WHERE a.kind = 'user' AND (b.available_amount < 0 OR b.frozen_amount < 0 OR b.allows_negative = %s)""",
        [True],
    )
    return [
        discrepancy(
            "user_balance_not_negative",
            account_id=a,
            asset_code=c,
            expected="non-negative, allows_negative off",
            actual={"available": int(av), "frozen": int(fr), "allows_negative": bool(neg)},
        )
        for a, c, av, fr, neg in rows
    ]


LEDGER_CHECKS = (
    balances_match_journal,
    assets_sum_to_zero,
    holds_match_frozen,
    entries_balance,
    user_balances_not_negative,
)


def ledger_discrepancies() -> list[dict]:
    return [problem for check in LEDGER_CHECKS for problem in check()]
