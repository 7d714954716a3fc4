"""The checker of a torture run: what clients were told against what the database holds.

Jepsen's bank test in spirit: every acknowledged operation exists exactly once, nothing exists that no
client asked for, every retry ended with the original answer, each client's books equal the server's,
and the ledger's own invariants hold in SQL (written here again, independently of the code under test)
and in `manage.py reconcile_ledger`; every committed journal entry seals into the hash chain, which
`manage.py journal_verify` then finds intact. On a cluster, the money tables are the same on every node,
and `reconcile_ledger` is clean against each.
"""

import dataclasses
import hashlib
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable

from torture_client import API, GRANT_BUSINESS_TYPE, ITEM_SOURCE, Op, TransportError, http_call

# How the journal stores a grant's type (ledger.models.grant_business_type).
GRANT_ENTRY_TYPE = f"grant:{GRANT_BUSINESS_TYPE}"

WRITE_KINDS = {
    "grant_asset",
    "grant_item",
    "listing_create",
    "listing_cancel",
    "purchase",
    "order_create",
    "order_cancel",
    "fulfil",
    "gift",
    "buy_order_place",
    "buy_order_cancel",
}
FILL_KEY_PREFIX = "#fill:"  # market.matching: a fill's trade key, outside the Idempotency-Key alphabet


# What moves or holds value, and what decides it: these must be byte for byte the same on every node.
MONEY_TABLES = (
    "accounts",
    "account_asset_balances",
    "asset_journal_entries",
    "asset_transactions",
    "asset_holds",
    "ledger_issuance_days",
    "market_listings",
    "market_trades",
    "item_instances",
    "item_instance_events",
    "redemption_orders",
    "gifts",
    "core_backpack_versions",
    "core_idempotency_records",
    "core_outbox_events",
)


@dataclasses.dataclass
class Node:
    """A cluster node as the checker sees it: a direct connection (no proxy), and the app's DATABASE_URL for it."""

    name: str
    connect: Callable
    database_url: str


class Checker:
    def __init__(self, *, clients, world, caps, database, port, manage, stats, nodes=()):
        self.clients, self.world, self.caps = clients, world, caps
        self.database, self.port, self.manage, self.stats = database, port, manage, stats
        self.nodes: list[Node] = list(nodes)
        self.violations: list[dict] = []
        self.passed: Counter = Counter()
        self.user_of = {c.index: c.user["id"] for c in clients}
        self.client_of_user = {c.user["id"]: c for c in clients}

    def violation(self, check: str, **details) -> None:
        self.violations.append({"check": check, **details})

    # -- the run ----------------------------------------------------------------------------------

    def check(self) -> list[dict]:
        if self.nodes:
            self.check_nodes_identical()
        self.load()
        self.check_run()
        self.check_acknowledged_exist_once()
        self.check_refusals_had_no_effect()
        self.check_nothing_unasked()
        self.check_replays()
        self.check_idempotency_records()
        self.model = self.expected_books()
        self.check_books_against_server()
        self.check_sql_invariants()
        self.check_reconcile_ledger()
        self.check_journal_seal()
        return self.violations

    def query(self, sql: str, params=()) -> list[tuple]:
        cursor = self.db.cursor()
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    def load(self) -> None:
        self.db = self.database.connect()
        self.ops = [op for client in self.clients for op in client.ops]
        self.firsts = [op for op in self.ops if op.replay_of is None]
        self.entries = {
            (row[1], row[2]): row[0]
            for row in self.query("SELECT id, business_type, business_id FROM asset_journal_entries")
        }
        self.grant_legs = {
            row[0]: row[1:]
            for row in self.query(
                "SELECT e.business_id, a.user_id, l.asset_code, l.delta_available, e.id "
                "FROM asset_journal_entries e JOIN asset_transactions l ON l.entry_id = e.id "
                "JOIN accounts a ON a.id = l.account_id WHERE e.business_type = %s AND a.user_id IS NOT NULL",
                [GRANT_ENTRY_TYPE],
            )
        }
        self.items = {
            row[0]: dict(zip(("id", "owner", "type", "status", "locked_by", "source", "source_ref"), row, strict=True))
            for row in self.query(
                "SELECT id, owner_id, item_type, status, locked_by, source, source_ref FROM item_instances"
            )
        }
        self.items_by_ref = {(i["source"], i["source_ref"]): i for i in self.items.values()}
        self.listings = {
            row[0]: dict(
                zip(
                    (
                        "id",
                        "seller",
                        "type",
                        "asset",
                        "quantity",
                        "remaining",
                        "item_id",
                        "price_asset",
                        "unit_price",
                        "status",
                        "hold_id",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in self.query(
                "SELECT id, seller_id, listing_type, asset_code, quantity, quantity_remaining, item_instance_id, "
                "price_asset_code, unit_price, status, hold_id FROM market_listings"
            )
        }
        self.trades = {
            (row[2], row[10]): dict(
                zip(
                    (
                        "id",
                        "listing_id",
                        "buyer",
                        "seller",
                        "quantity",
                        "unit_price",
                        "price_asset",
                        "total",
                        "fee",
                        "seller_amount",
                        "key",
                        "buy_order_id",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in self.query(
                "SELECT id, listing_id, buyer_id, seller_id, quantity, unit_price, price_asset_code, total, fee, "
                "seller_amount, idempotency_key, buy_order_id FROM market_trades"
            )
        }
        self.fills = [trade for trade in self.trades.values() if trade["buy_order_id"] is not None]
        self.bids = {}
        if self.query("SHOW TABLES LIKE 'market_buy_orders'"):
            columns = ("id", "buyer", "asset", "quantity", "remaining", "max_unit_price", "status", "hold_id", "key")
            self.bids = {
                row[0]: dict(zip(columns, row, strict=True))
                for row in self.query(
                    "SELECT id, buyer_id, asset_code, quantity, quantity_remaining, max_unit_price, status, hold_id, "
                    "idempotency_key FROM market_buy_orders"
                )
            }
        self.bids_by_key = {(bid["buyer"], bid["key"]): bid for bid in self.bids.values()}
        self.orders = {
            str(uuid.UUID(row[0])): dict(
                zip(("order_id", "item_id", "customer", "redeemer", "status"), row, strict=True)
            )
            for row in self.query(
                "SELECT order_id, item_instance_id, customer_id, redeemer_id, status FROM redemption_orders"
            )
        }
        for order in self.orders.values():
            order["order_id"] = str(uuid.UUID(order["order_id"]))
        self.idempotency_records = {}
        if self.query("SHOW TABLES LIKE 'core_idempotency_records'"):
            self.idempotency_records = {
                (row[0], row[1]): (row[2], row[3])
                for row in self.query(
                    "SELECT caller_id, key_digest, status, response_body FROM core_idempotency_records"
                )
            }
        self.listing_ops = defaultdict(list)  # listing id -> the create ops that answered it
        for op in self.firsts:
            if op.kind == "listing_create":
                for listing_id in self.listing_ids(op):
                    self.listing_ops[listing_id].append(op)

    @staticmethod
    def listing_ids(op: Op) -> list[int]:
        if op.outcome == "ok":
            return [op.reply["id"]]
        return list(op.adopted) if op.outcome == "reconciled" else []

    # -- what happened to each operation ----------------------------------------------------------

    def effect(self, op: Op) -> bool | None:
        """Whether the write took effect, from the database where the client cannot know (a lost answer)."""
        if op.outcome in ("ok", "reconciled"):
            return True
        if op.outcome == "refused" and not op.ambiguous:
            return False
        user = self.user_of[op.client]
        if op.kind == "grant_asset":
            return (GRANT_ENTRY_TYPE, op.key) in self.entries
        if op.kind == "grant_item":
            return (ITEM_SOURCE, op.key) in self.items_by_ref
        if op.kind == "purchase":
            return (user, op.key) in self.trades
        if op.kind == "fulfil":
            order = self.orders.get(op.params["order_id"])
            return bool(order) and order["status"] == "fulfilled" and order["redeemer"] == op.params["staff_id"]
        if op.kind == "listing_cancel":
            return self.listings.get(op.params["listing_id"], {}).get("status") == "cancelled"
        if op.kind == "order_cancel":
            return self.orders.get(op.params["order_id"], {}).get("status") == "cancelled"
        if op.kind == "buy_order_place":
            return (user, op.key) in self.bids_by_key
        if op.kind == "buy_order_cancel":
            return self.bids.get(op.params["buy_order_id"], {}).get("status") == "cancelled"
        return False if op.outcome == "refused" else None

    def check_run(self) -> None:
        for client in self.clients:
            if client.crash:
                self.violation("client_crashed", client=client.index, traceback=client.crash[-1500:])
        for bad in self.stats.bad_server_errors:
            self.violation("server_error_not_503", **bad)
        self.passed["responses_5xx_all_503_envelope"] = sum(
            n for status, n in self.stats.statuses.items() if status >= 500
        ) - len(self.stats.bad_server_errors)
        for op in self.ops:
            if op.outcome == "indeterminate":
                self.violation("no_definite_answer", client=op.client, seq=op.seq, kind=op.kind, key=op.key)

    def check_acknowledged_exist_once(self) -> None:
        """Every write a client saw acknowledged is in the database, once, as the answer said."""
        for op in self.ops:
            if op.outcome not in ("ok", "reconciled") or op.kind not in WRITE_KINDS:
                continue
            user = self.user_of[op.client]
            problem = None
            if op.kind == "grant_asset":
                leg = self.grant_legs.get(op.key)
                expected = (op.params["user_id"], op.params["asset_code"], op.params["amount"], op.reply["entry_id"])
                problem = None if leg == expected else f"journal has {leg}, answer said {expected}"
            elif op.kind == "grant_item":
                item = self.items_by_ref.get((ITEM_SOURCE, op.key))
                problem = None if item and item["id"] == op.reply["item_instance_id"] else f"item {item}"
            elif op.kind == "purchase":
                trade = self.trades.get((user, op.key))
                ok = trade and (trade["id"], trade["listing_id"], trade["quantity"]) == (
                    op.reply["id"],
                    op.params["listing_id"],
                    op.reply["quantity"],
                )
                problem = None if ok else f"trade {trade}, answer {op.reply}"
            elif op.kind == "listing_create":
                for listing_id in self.listing_ids(op):
                    listing = self.listings.get(listing_id)
                    p = op.params
                    ok = listing and (
                        listing["seller"],
                        listing["type"],
                        listing["asset"],
                        listing["quantity"],
                        listing["item_id"],
                        listing["unit_price"],
                    ) == (
                        user,
                        p["listing_type"],
                        p.get("asset_code"),
                        p.get("quantity"),
                        p.get("item_instance_id"),
                        p["unit_price"],
                    )
                    if not ok:
                        problem = f"listing {listing_id}: {listing}"
            elif op.kind == "order_create":
                order = self.orders.get(op.reply["order_id"])
                ok = order and (order["customer"], order["item_id"]) == (user, op.params["item_instance_id"])
                problem = None if ok else f"order {order}"
            elif op.kind == "fulfil":
                order = self.orders.get(op.params["order_id"])
                ok = order and order["status"] == "fulfilled" and order["redeemer"] == op.params["staff_id"]
                problem = None if ok else f"order {order}"
            elif op.kind == "listing_cancel":
                status = self.listings.get(op.params["listing_id"], {}).get("status")
                problem = None if status == "cancelled" else f"listing status {status}"
            elif op.kind == "order_cancel":
                status = self.orders.get(op.params["order_id"], {}).get("status")
                problem = None if status == "cancelled" else f"order status {status}"
            elif op.kind == "gift":
                problem = None  # checked through the books: the gifts table is not this harness's to know
            elif op.kind == "buy_order_place":
                bid = self.bids_by_key.get((user, op.key))
                p = op.params
                ok = bid and (bid["id"], bid["asset"], bid["quantity"], bid["max_unit_price"]) == (
                    op.reply["id"],
                    p["asset_code"],
                    p["quantity"],
                    p["max_unit_price"],
                )
                problem = None if ok else f"buy order {bid}, answer {op.reply}"
            elif op.kind == "buy_order_cancel":
                status = self.bids.get(op.params["buy_order_id"], {}).get("status")
                problem = None if status == "cancelled" else f"buy order status {status}"
            if problem:
                self.violation(
                    "acknowledged_missing", client=op.client, seq=op.seq, kind=op.kind, key=op.key, problem=problem
                )
            else:
                self.passed["acknowledged_exist_once"] += 1
                if op.ambiguous:
                    self.passed["retried_then_acknowledged"] += 1

    def check_refusals_had_no_effect(self) -> None:
        """A refused write left nothing behind; a retried write was answered as the original was."""
        for op in self.firsts:
            if op.outcome != "refused" or op.kind not in WRITE_KINDS:
                continue
            applied = self.effect(op)
            if op.kind in ("listing_cancel", "order_cancel", "buy_order_cancel") and op.ambiguous and applied:
                # The cancel went through on a lost attempt; its retry was told the current state (409 with
                # status "cancelled") rather than the original answer. The generic Idempotency-Key replays it.
                self.passed["retried_cancel_told_state_not_original"] += 1
            elif applied and op.ambiguous:
                self.violation(
                    "retry_not_original_answer",
                    client=op.client,
                    seq=op.seq,
                    kind=op.kind,
                    key=op.key,
                    answer=op.error_code,
                    attempts=op.attempts,
                )
            elif applied:
                self.violation("refused_but_applied", client=op.client, seq=op.seq, kind=op.kind, answer=op.error_code)
            else:
                self.passed["refused_without_effect"] += 1

    def check_nothing_unasked(self) -> None:
        """No effect exists in the database that no client asked for."""
        grant_keys = {op.key for op in self.firsts if op.kind == "grant_asset"}
        item_keys = {op.key for op in self.firsts if op.kind == "grant_item"}
        purchase_keys = {(self.user_of[op.client], op.key) for op in self.firsts if op.kind == "purchase"}
        purchase_entries = {
            f"{op.params['listing_id']}:{self.user_of[op.client]}:{op.key}"
            for op in self.firsts
            if op.kind == "purchase"
        }
        cancel_attempts = {op.params["listing_id"] for op in self.firsts if op.kind == "listing_cancel"}
        gift_entries = {f"{self.user_of[op.client]}:{op.key}" for op in self.firsts if op.kind == "gift"}
        placements = {(self.user_of[op.client], op.key) for op in self.firsts if op.kind == "buy_order_place"}
        bid_cancels = {op.params["buy_order_id"] for op in self.firsts if op.kind == "buy_order_cancel"}
        asked_bids = {bid["id"] for bid in self.bids.values() if (bid["buyer"], bid["key"]) in placements}
        fill_entries = {f"{fill['buy_order_id']}:{fill['listing_id']}" for fill in self.fills}
        for (business_type, business_id), entry_id in self.entries.items():
            known = {
                GRANT_ENTRY_TYPE: business_id in grant_keys,
                "market_purchase": business_id in purchase_entries,
                "market_listing": business_id.isdigit() and int(business_id) in self.listing_ops,
                "market_listing_cancelled": business_id.isdigit() and int(business_id) in cancel_attempts,
                "gift": business_id in gift_entries,  # gifts.services: "<sender id>:<Idempotency-Key>"
                # market.buy_order_services: the hold "<buyer id>:<Idempotency-Key>", its release by order id;
                # market.matching: a fill "<buy order id>:<listing id>", with its trade.
                "market_buy_order": tuple(business_id.split(":", 1)) in {(str(u), k) for u, k in placements},
                "market_buy_order_cancelled": business_id.isdigit() and int(business_id) in bid_cancels,
                "market_fill": business_id in fill_entries,
            }.get(business_type)
            if not known:
                self.violation("entry_nobody_asked_for", entry_id=entry_id, business=f"{business_type}:{business_id}")
            else:
                self.passed["entries_asked_for"] += 1
        for (buyer, key), trade in self.trades.items():
            if trade["buy_order_id"] is not None:
                asked = trade["buy_order_id"] in asked_bids and trade["listing_id"] in self.listing_ops
                if not asked or key != f"{FILL_KEY_PREFIX}{trade['buy_order_id']}:{trade['listing_id']}":
                    self.violation("fill_nobody_asked_for", trade=trade)
            elif (buyer, key) not in purchase_keys:
                self.violation("trade_nobody_asked_for", buyer=buyer, key=key)
        for bid in self.bids.values():
            if bid["id"] not in asked_bids:
                self.violation("buy_order_nobody_asked_for", buy_order=bid)
            if bid["status"] == "cancelled" and bid["id"] not in bid_cancels:
                self.violation("buy_order_cancelled_unasked", buy_order_id=bid["id"])
        self.passed["buy_orders_asked_for"] = len(self.bids)
        for item in self.items.values():
            if item["source"] != ITEM_SOURCE or item["source_ref"] not in item_keys:
                self.violation("item_nobody_asked_for", item=item)
        for listing_id, listing in self.listings.items():
            creators = self.listing_ops.get(listing_id)
            if not creators:
                self.violation("listing_nobody_asked_for", listing=listing)
            elif len({op.key for op in creators}) > 1 or any(len(self.listing_ids(op)) > 1 for op in creators):
                self.violation("listing_create_doubled", listing_id=listing_id, keys=[op.key for op in creators])
            if listing["status"] == "cancelled" and listing_id not in cancel_attempts:
                self.violation("listing_cancelled_unasked", listing_id=listing_id)
        self.check_orders_asked_for()
        self.passed["listings_asked_for"] = len(self.listings)
        self.passed["trades_asked_for"] = len(self.trades)
        self.passed["items_asked_for"] = len(self.items)

    def check_orders_asked_for(self) -> None:
        acknowledged = {op.reply["order_id"] for op in self.ops if op.kind == "order_create" and op.outcome == "ok"}
        lost_answers = Counter()  # (customer, item) -> creates whose answer was lost at least once
        for op in self.firsts:
            if op.kind == "order_create" and op.ambiguous:
                lost_answers[(self.user_of[op.client], op.params["item_instance_id"])] += op.ambiguous
        unknown = Counter()
        fulfil_attempts = {(op.params["order_id"], op.params["staff_id"]) for op in self.firsts if op.kind == "fulfil"}
        cancel_attempts = {op.params["order_id"] for op in self.firsts if op.kind == "order_cancel"}
        creates_per_item = Counter(
            op.params["item_instance_id"]
            for op in self.firsts
            if op.kind == "order_create" and self.effect(op) is not False
        )
        for order_id, order in self.orders.items():
            if order_id not in acknowledged:
                # A create whose answer was lost, then retried: the retry replaced it (a "lost code").
                unknown[(order["customer"], order["item_id"])] += 1
                if order["status"] != "cancelled":
                    self.violation("order_nobody_asked_for", order=order)
                continue
            if order["status"] == "fulfilled" and (order_id, order["redeemer"]) not in fulfil_attempts:
                self.violation("order_fulfilled_unasked", order=order)
            if (
                order["status"] == "cancelled"
                and order_id not in cancel_attempts
                and creates_per_item[order["item_id"]] < 2
            ):
                self.violation("order_cancelled_unasked", order=order)
        for pair, count in unknown.items():
            if count > lost_answers[pair]:
                self.violation("order_create_doubled", customer=pair[0], item_id=pair[1], orders=count)
            else:
                self.passed["orders_from_lost_answers_replaced"] += count
        self.passed["orders_asked_for"] = len(self.orders)

    def check_replays(self) -> None:
        """A write sent again with its key answers exactly what it answered the first time."""
        by_position = {(op.client, op.seq): op for op in self.ops}
        for op in self.ops:
            if op.replay_of is None:
                continue
            original = by_position[(op.client, op.replay_of)]
            if op.outcome != "ok" or op.reply != original.reply:
                self.violation(
                    "replay_not_original_answer",
                    client=op.client,
                    kind=op.kind,
                    key=op.key,
                    status=op.status,
                    answer=op.reply if op.outcome != "ok" else "a different body",
                )
            else:
                self.passed["replays_answered_the_original"] += 1

    def check_idempotency_records(self) -> None:
        """Where the server keeps Idempotency-Key records (SPEC §8's generic keys): each record belongs to a
        write a client sent with that key, which took effect, and holds the answer the client was given; and
        every acknowledged write of a kind the server records has its record."""
        if not self.idempotency_records:
            return
        by_key = {(self.user_of[op.client], hashlib.sha256(op.key.encode()).hexdigest()): op for op in self.firsts}
        recorded_kinds = set()
        for (caller, digest), (status, body) in self.idempotency_records.items():
            op = by_key.get((caller, digest))
            if op is None:
                self.violation("idempotency_record_nobody_asked_for", caller=caller, status=status)
                continue
            recorded_kinds.add(op.kind)
            stored = json.loads(body) if body else {}
            if not self.effect(op):
                self.violation("idempotency_record_without_effect", client=op.client, seq=op.seq, kind=op.kind)
            elif op.outcome == "ok" and answer_id(stored) != answer_id(op.reply):
                self.violation("idempotency_record_not_the_answer", client=op.client, seq=op.seq, kind=op.kind)
            else:
                self.passed["idempotency_records_match_answers"] += 1
        for op in self.firsts:
            key = (self.user_of[op.client], hashlib.sha256(op.key.encode()).hexdigest())
            if op.kind in recorded_kinds and op.outcome == "ok" and key not in self.idempotency_records:
                self.violation("acknowledged_without_idempotency_record", client=op.client, seq=op.seq, kind=op.kind)

    # -- the books --------------------------------------------------------------------------------

    def expected_books(self) -> dict:
        """Balances and items every customer should have, from the writes that took effect."""
        assets = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        seen_keys = set()
        for op in self.firsts:
            if op.kind == "grant_asset" and self.effect(op) and op.key not in seen_keys:
                seen_keys.add(op.key)
                assets[op.params["user_id"]][op.params["asset_code"]][0] += op.params["amount"]
        listings = {}
        for listing_id, creators in self.listing_ops.items():
            op = creators[0]
            listings[listing_id] = {"seller": self.user_of[op.client], "op": op, **op.params}
        trades = defaultdict(list)
        for op in self.firsts:
            if op.kind == "purchase" and self.effect(op):
                buyer = self.user_of[op.client]
                trade = self.trades.get((buyer, op.key))
                if trade is None:
                    continue  # reported as acknowledged_missing
                trades[trade["listing_id"]].append((op, trade))
        cancelled = {op.params["listing_id"] for op in self.firsts if op.kind == "listing_cancel" and self.effect(op)}
        fills = defaultdict(list)
        for fill in self.fills:
            fills[fill["listing_id"]].append(fill)
        for listing_id, listing in listings.items():
            sold = sum(trade["quantity"] for _, trade in trades[listing_id]) + sum(
                fill["quantity"] for fill in fills[listing_id]
            )
            if listing["listing_type"] == "asset":
                seller = assets[listing["seller"]][listing["asset_code"]]
                seller[0] -= listing["quantity"]
                seller[1] += listing["quantity"] - sold
                if listing_id in cancelled:
                    seller[1] -= listing["quantity"] - sold
                    seller[0] += listing["quantity"] - sold
                if sold > listing["quantity"]:
                    self.violation("listing_oversold", listing_id=listing_id, quantity=listing["quantity"], sold=sold)
                expected_status = (
                    "cancelled" if listing_id in cancelled else ("sold" if sold == listing["quantity"] else "on_sale")
                )
            else:
                if len(trades[listing_id]) > 1:
                    self.violation("item_sold_twice", listing_id=listing_id, trades=len(trades[listing_id]))
                expected_status = "cancelled" if listing_id in cancelled else ("sold" if sold else "on_sale")
                if listing_id in cancelled and sold:
                    self.violation("listing_sold_and_cancelled", listing_id=listing_id)
            actual = self.listings.get(listing_id, {}).get("status")
            if actual != expected_status:
                self.violation("listing_status", listing_id=listing_id, expected=expected_status, actual=actual)
            else:
                self.passed["listing_status_as_expected"] += 1
            for _, trade in trades[listing_id]:
                buyer = assets[trade["buyer"]]
                buyer[trade["price_asset"]][0] -= trade["total"]
                assets[listing["seller"]][trade["price_asset"]][0] += trade["seller_amount"]
                if listing["listing_type"] == "asset":
                    buyer[listing["asset_code"]][0] += trade["quantity"]
            for fill in fills[listing_id]:
                assets[listing["seller"]][fill["price_asset"]][0] += fill["seller_amount"]
        self.expected_bids(assets)
        for op in self.firsts:
            if op.kind == "gift" and "asset_code" in op.params and self.effect(op):
                assets[self.user_of[op.client]][op.params["asset_code"]][0] -= op.params["amount"]
                assets[op.params["to_user_id"]][op.params["asset_code"]][0] += op.params["amount"]
        return {"assets": assets, "items": self.expected_items(listings, trades)}

    def expected_bids(self, assets) -> None:
        """A buy order freezes quantity * max_unit_price; each fill settles its share, gives back what it cost
        under the limit and brings the asset; a cancel gives back what was left. Each fill at the resting
        order's price, within both prices; each order's remaining and status as its fills and cancel say."""
        cancelled = {
            op.params["buy_order_id"] for op in self.firsts if op.kind == "buy_order_cancel" and self.effect(op)
        }
        placed = {
            (self.user_of[op.client], op.key) for op in self.firsts if op.kind == "buy_order_place" and self.effect(op)
        }
        fills = defaultdict(list)
        for fill in self.fills:
            fills[fill["buy_order_id"]].append(fill)
        for bid in self.bids.values():
            if (bid["buyer"], bid["key"]) not in placed:
                continue  # reported as buy_order_nobody_asked_for
            price, buyer = bid["max_unit_price"], assets[bid["buyer"]]
            buyer["DIAMOND"][0] -= bid["quantity"] * price
            buyer["DIAMOND"][1] += bid["quantity"] * price
            filled = 0
            for fill in fills[bid["id"]]:
                filled += fill["quantity"]
                buyer["DIAMOND"][1] -= fill["quantity"] * price
                buyer["DIAMOND"][0] += fill["quantity"] * price - fill["total"]
                buyer[self.listings[fill["listing_id"]]["asset"]][0] += fill["quantity"]
                ask = self.listings[fill["listing_id"]]["unit_price"]
                if fill["unit_price"] not in (ask, price) or not ask <= fill["unit_price"] <= price:
                    self.violation("fill_price", trade_id=fill["id"], ask=ask, bid=price, price=fill["unit_price"])
            left = bid["quantity"] - filled
            if bid["id"] in cancelled:
                buyer["DIAMOND"][1] -= left * price
                buyer["DIAMOND"][0] += left * price
            expected = ("cancelled" if bid["id"] in cancelled else "open" if left else "filled", left)
            if left < 0 or (bid["status"], bid["remaining"]) != expected:
                self.violation("buy_order_state", buy_order_id=bid["id"], expected=expected, actual=bid)
            else:
                self.passed["buy_order_state_as_expected"] += 1

    def expected_items(self, listings: dict, trades: dict) -> dict:
        """Where each granted item should be and in what state: its owners' writes on it, in each owner's
        own order, handed on by a purchase of its listing (or a gift, or used up by a fulfil)."""
        ops_on_item = defaultdict(lambda: defaultdict(list))  # item -> client -> ops in the client's order
        for op in self.firsts:
            item_id = op.params.get("item_instance_id")
            if op.kind == "listing_cancel":
                item_id = listings.get(op.params["listing_id"], {}).get("item_instance_id")
            if item_id is not None and op.kind in WRITE_KINDS and op.kind != "grant_item":
                ops_on_item[item_id][op.client].append(op)
        expected = {}
        for op in self.firsts:
            if op.kind != "grant_item" or not self.effect(op):
                continue
            item = self.items_by_ref.get((ITEM_SOURCE, op.key))
            if item is None or item["id"] in expected:
                continue
            expected[item["id"]] = self.walk(item["id"], op, ops_on_item[item["id"]], listings, trades)
        return expected

    def walk(self, item_id, grant: Op, ops_by_client, listings, trades) -> tuple[int, str]:
        owner_client = self.client_of_user[grant.params["user_id"]].index
        after, status = -1, "available"
        consumed = set()
        while True:
            handoff = None
            for op in ops_by_client.get(owner_client, []):
                if op.seq <= after:
                    continue
                consumed.add((op.client, op.seq))
                if op.kind == "purchase" or not self.effect(op):
                    continue
                if op.kind == "listing_create":
                    status = "locked"
                    sold = [t for listing_id in self.listing_ids(op) for t in trades.get(listing_id, [])]
                    if sold:
                        handoff = sold[0][0]
                        break
                elif op.kind in ("listing_cancel", "order_cancel"):
                    status = "available"
                elif op.kind == "order_create":
                    status = "locked"
                elif op.kind == "fulfil":
                    status = "used"
                    break
                elif op.kind == "gift":
                    return self.finish_walk(item_id, ops_by_client, consumed, (op.params["to_user_id"], "available"))
            if handoff is None:
                return self.finish_walk(item_id, ops_by_client, consumed, (self.user_of[owner_client], status))
            owner_client, after, status = handoff.client, handoff.seq, "available"

    def finish_walk(self, item_id, ops_by_client, consumed, result):
        for client_ops in ops_by_client.values():
            for op in client_ops:
                if (op.client, op.seq) not in consumed and op.kind != "purchase" and op.outcome == "ok":
                    self.violation(
                        "write_on_item_not_owned", item_id=item_id, client=op.client, seq=op.seq, kind=op.kind
                    )
        return result

    def server_read(self, path: str, token: str):
        for _ in range(20):
            try:
                reply = http_call(self.port, "GET", path, headers={"Authorization": f"Bearer {token}"})
            except TransportError:
                continue
            if reply.status == 200:
                return reply.body
        raise RuntimeError(f"the server did not answer GET {path}")

    def check_books_against_server(self) -> None:
        """Each customer's balances and items, as the API shows them, equal what the writes add up to."""
        expected_items = defaultdict(dict)
        for item_id, (owner, status) in self.model["items"].items():
            expected_items[owner][item_id] = status
        for client in self.clients:
            user, token = client.user["id"], client.user["token"]
            balances = self.server_read(f"{API}/assets", token)["assets"]
            actual = {b["asset_code"]: [b["available_amount"], b["frozen_amount"]] for b in balances}
            expected = {a: v for a, v in self.model["assets"][user].items() if v != [0, 0]}
            if actual != expected:
                self.violation("balances_differ", user=user, expected=expected, server=actual)
            else:
                self.passed["customers_balances_equal"] += 1
            items, path = {}, f"{API}/items?page_size=200"
            while path:
                page = self.server_read(path, token)
                items.update({row["item_instance_id"]: row["status"] for row in page["results"]})
                path = page["next"] and page["next"][page["next"].index("/api/") :]
            if items != expected_items[user]:
                differ = {
                    pk: (expected_items[user].get(pk), items.get(pk))
                    for pk in set(items) | set(expected_items[user])
                    if expected_items[user].get(pk) != items.get(pk)
                }
                self.violation("items_differ", user=user, expected_vs_server=differ)
            else:
                self.passed["customers_items_equal"] += 1

    # -- invariants -------------------------------------------------------------------------------

    def check_sql_invariants(self) -> None:
        invariants = {
            "asset_sums_to_zero": "SELECT asset_code, SUM(available_amount + frozen_amount) FROM account_asset_balances "
            "GROUP BY asset_code HAVING SUM(available_amount + frozen_amount) <> 0",
            "balance_equals_journal": "SELECT b.account_id, b.asset_code, b.available_amount, b.frozen_amount, "
            "j.available, j.frozen FROM account_asset_balances b LEFT JOIN (SELECT account_id, asset_code, "
            "SUM(delta_available) AS available, SUM(delta_frozen) AS frozen FROM asset_transactions "
            "GROUP BY account_id, asset_code) j ON j.account_id = b.account_id AND j.asset_code = b.asset_code "
            "WHERE b.available_amount <> COALESCE(j.available, 0) OR b.frozen_amount <> COALESCE(j.frozen, 0)",
            "journal_has_balance_row": "SELECT l.account_id, l.asset_code FROM asset_transactions l "
            "LEFT JOIN account_asset_balances b ON b.account_id = l.account_id AND b.asset_code = l.asset_code "
            "WHERE b.id IS NULL",
            "open_holds_equal_frozen": "SELECT b.account_id, b.asset_code, b.frozen_amount, h.remaining "
            "FROM account_asset_balances b LEFT JOIN (SELECT account_id, asset_code, SUM(remaining) AS remaining "
            "FROM asset_holds WHERE status = 'open' GROUP BY account_id, asset_code) h "
            "ON h.account_id = b.account_id AND h.asset_code = b.asset_code "
            "WHERE b.frozen_amount <> COALESCE(h.remaining, 0)",
            "entry_legs_sum_to_zero": "SELECT entry_id, asset_code FROM asset_transactions "
            "GROUP BY entry_id, asset_code HAVING SUM(delta_available + delta_frozen) <> 0",
            "user_balances_not_negative": "SELECT b.account_id, b.asset_code FROM account_asset_balances b "
            "JOIN accounts a ON a.id = b.account_id WHERE a.user_id IS NOT NULL "
            "AND (b.available_amount < 0 OR b.frozen_amount < 0)",
            "trade_parts_sum_to_total": "SELECT id FROM market_trades "
            "WHERE total <> quantity * unit_price OR total <> fee + seller_amount",
            "asset_listing_on_its_hold": "SELECT l.id FROM market_listings l LEFT JOIN asset_holds h ON h.id = l.hold_id "
            "WHERE l.listing_type = 'asset' AND ((l.status = 'on_sale' AND (h.status IS NULL OR h.status <> 'open' "
            "OR h.remaining <> l.quantity_remaining)) OR (l.status <> 'on_sale' AND h.status = 'open'))",
        }
        if self.bids:
            invariants["buy_order_on_its_hold"] = (
                "SELECT o.id FROM market_buy_orders o LEFT JOIN asset_holds h ON h.id = o.hold_id "
                "WHERE (o.status = 'open' AND (h.status IS NULL OR h.status <> 'open' "
                "OR h.remaining <> o.quantity_remaining * o.max_unit_price)) OR (o.status <> 'open' AND h.status = 'open')"
            )
            invariants["book_not_crossed"] = (
                "SELECT b.asset_code, b.best, a.best FROM (SELECT asset_code, price_asset_code, MAX(max_unit_price) AS best "
                "FROM market_buy_orders WHERE status = 'open' AND expires_at > UTC_TIMESTAMP(6) "
                "GROUP BY asset_code, price_asset_code) b JOIN (SELECT asset_code, price_asset_code, MIN(unit_price) AS best "
                "FROM market_listings WHERE status = 'on_sale' AND listing_type = 'asset' AND expires_at > UTC_TIMESTAMP(6) "
                "GROUP BY asset_code, price_asset_code) a ON a.asset_code = b.asset_code "
                "AND a.price_asset_code = b.price_asset_code WHERE b.best >= a.best"
            )
        for name, sql in invariants.items():
            rows = self.query(sql)
            for row in rows[:20]:
                self.violation(name, row=[str(value) for value in row])
            if not rows:
                self.passed[f"sql_{name}"] += 1
        self.check_lock_holders()

    def check_lock_holders(self) -> None:
        """Each locked item has exactly one live holder, and each live holder has its item locked by it."""
        holders = defaultdict(list)
        for listing in self.listings.values():
            if listing["type"] == "item" and listing["status"] == "on_sale":
                holders[listing["item_id"]].append(f"market:{listing['id']}")
        for order in self.orders.values():
            if order["status"] == "pending":
                holders[order["item_id"]].append(f"redemption:{order['order_id']}")
        bad = 0
        for item in self.items.values():
            live = holders.get(item["id"], [])
            if item["status"] == "locked":
                if live != [item["locked_by"]]:
                    bad += 1
                    self.violation("lock_holder", item_id=item["id"], locked_by=item["locked_by"], live=live)
            elif live:
                bad += 1
                self.violation("live_holder_item_not_locked", item_id=item["id"], status=item["status"], live=live)
        if not bad:
            self.passed["sql_one_live_holder_per_locked_item"] += 1

    def check_reconcile_ledger(self) -> None:
        for node in self.nodes or [None]:
            done = self.manage("reconcile_ledger", database_url=node and node.database_url)
            if done.returncode:
                where = {"node": node.name} if node else {}
                self.violation("reconcile_ledger", **where, output=(done.stdout + done.stderr)[-1500:])
            else:
                self.passed["reconcile_ledger" + (f"_{node.name}" if node else "")] += 1

    def check_nodes_identical(self) -> None:
        """CHECKSUM TABLE of the money tables on each node, taken once the node has applied every write set
        committed anywhere (the clients have stopped: nothing else writes them)."""
        checksums = {}
        for node in self.nodes:
            connection = node.connect()
            try:
                cursor = connection.cursor()
                cursor.execute("SET SESSION wsrep_sync_wait = 1")
                cursor.execute("SELECT 1")  # waits until this node has caught up with the cluster
                cursor.execute(f"CHECKSUM TABLE {', '.join(MONEY_TABLES)}")
                checksums[node.name] = {table.split(".")[-1]: value for table, value in cursor.fetchall()}
            finally:
                connection.close()
        for table in MONEY_TABLES:
            values = {name: found.get(table) for name, found in checksums.items()}
            if len(set(values.values())) != 1 or None in values.values():
                self.violation("nodes_differ", table=table, checksums=values)
            else:
                self.passed["tables_identical_on_every_node"] += 1

    def check_journal_seal(self) -> None:
        for command in ("seal_journal", "journal_verify"):
            done = self.manage(command)
            if done.returncode:
                self.violation(command, output=(done.stdout + done.stderr)[-1500:])
                return
        self.passed["journal_verify"] += 1


def answer_id(body) -> object:
    """What an answer is about: a listing's, a trade's or a gift's id, or an order's id."""
    return body.get("id", body.get("order_id")) if isinstance(body, dict) else None
