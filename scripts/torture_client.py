"""The simulated clients of a torture run (scripts/torture.py).

Each client is one customer driving the economy over HTTP with a seeded random mix; it also asks the
prize issuer for grants and acts as merchant staff for its own codes. Every write carries an
`Idempotency-Key`; a timeout, a dropped connection or a 5xx is retried with the same request and the
same key, as a real client should, until a definite answer or the retry budget is spent. Every
request and its outcome is kept (`Op`), so the checker can compare what clients were told with what
the database holds.
"""

import http.client
import json
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field

MATERIALS = ("red_shard", "blue_shard", "green_shard", "red_crystal", "blue_crystal", "green_crystal")
ITEM_TYPES = ("voucher", "voucher", "product", "service", "equipment", "card")
REDEEMABLE = ("voucher", "product", "service")
GRANT_BUSINESS_TYPE = "torture_grant"
ITEM_SOURCE = "torture"
REQUEST_TIMEOUT = 30.0  # longer than gunicorn's worker timeout: a request given up on is no longer running
RETRY_BUDGET = 120.0  # seconds of retries before an operation is left indeterminate
MAX_OPEN_LISTINGS = 8
MAX_OPEN_BIDS = 6
API = "/api/v4"


class TransportError(Exception):
    """No HTTP answer: refused, reset, timed out. The request may or may not have taken effect."""


@dataclass
class Reply:
    status: int
    body: object
    is_json: bool
    retry_after: str | None = None

    @property
    def error(self) -> dict:
        if self.is_json and isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return {}

    @property
    def is_unavailable(self) -> bool:
        """The answer the web tier must give while the database or Redis is away."""
        return self.status == 503 and self.error.get("code") == "service_unavailable"


def http_call(port: int, method: str, path: str, *, body=None, headers=None) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    request_headers = {"Accept": "application/json", **(headers or {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        request_headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=request_headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise TransportError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
    is_json = (response.getheader("Content-Type") or "").startswith("application/json")
    try:
        parsed = json.loads(raw) if is_json and raw else raw[:300].decode(errors="replace")
    except ValueError:
        parsed, is_json = raw[:300].decode(errors="replace"), False
    return Reply(response.status, parsed, is_json, response.getheader("Retry-After"))


@dataclass
class Op:
    """One write as a client sent it, with every attempt's fate and the answer it ended with."""

    client: int
    seq: int
    kind: str
    key: str
    actor: str  # customer, staff or issuer
    method: str
    path: str
    body: dict | None
    params: dict
    replay_of: int | None = None  # the seq of the op this deliberately repeats, same key
    attempts: int = 0
    ambiguous: int = 0  # attempts that ended without a definite answer (no reply, or 5xx)
    outcome: str = "pending"  # ok, refused, reconciled (found after a lost answer), indeterminate
    status: int | None = None
    reply: object = None
    adopted: list = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def error_code(self) -> str | None:
        if isinstance(self.reply, dict) and isinstance(self.reply.get("error"), dict):
            return self.reply["error"].get("code")
        return None

    @property
    def error_details(self) -> dict:
        if isinstance(self.reply, dict) and isinstance(self.reply.get("error"), dict):
            return self.reply["error"].get("details") or {}
        return {}

    @property
    def applied(self) -> bool | None:
        """Whether the client knows it took effect: True, False, or None (indeterminate)."""
        if self.outcome in ("ok", "reconciled"):
            return True
        if self.outcome == "refused":
            return False
        return None


class Stats:
    """Counters shared by every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.transport_errors = Counter()
        self.bad_server_errors: list[dict] = []  # 5xx that are not 503 service_unavailable in the envelope
        self.unavailable_at: list[float] = []  # when each 503 arrived (time.monotonic)
        self.reads = 0

    def reply(self, reply: Reply, method: str, path: str) -> None:
        with self.lock:
            self.statuses[reply.status] += 1
            if method == "GET":
                self.reads += 1
            if reply.status == 503:
                self.unavailable_at.append(time.monotonic())
            if reply.status >= 500 and not reply.is_unavailable:
                self.bad_server_errors.append(
                    {"method": method, "path": path, "status": reply.status, "body": str(reply.body)[:200]}
                )

    def transport(self, error: TransportError) -> None:
        with self.lock:
            self.transport_errors[str(error).split(":")[0]] += 1


@dataclass
class Capabilities:
    """What the server under test supports, found out by probing it at the start."""

    listing_keys: bool = False  # POST market/listings answers a repeated Idempotency-Key with the original
    order_keys: bool = False  # POST items/{id}/redemption-orders likewise
    gifts: bool = False  # POST gifts exists


class Client(threading.Thread):
    def __init__(self, *, index, run_id, world, port, seed, stats, caps, stop, replay_rate=0.15):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index, self.run_id, self.port = index, run_id, port
        self.user = world["customers"][index]
        self.staff = world["staff"][index % len(world["staff"])]
        self.others = [c for c in world["customers"] if c["id"] != self.user["id"]]
        self.issuer_key = world["issuer_key"]
        self.merchant_code = world["merchant_code"]
        self.rng = random.Random(seed)
        self.jitter = random.Random(seed ^ 0x5EED)
        self.stats, self.caps, self.stop = stats, caps, stop
        self.replay_rate = replay_rate
        self.ops: list[Op] = []
        self.crash: str | None = None
        # What this client knows it has: exact for what only it changes, a lower bound for DIAMOND,
        # which its sales raise without telling it.
        self.assets: dict[str, int] = defaultdict(int)
        self.items: dict[int, dict] = {}  # id -> {type, status: available | locked}
        self.listings: dict[int, dict] = {}  # id -> {type, asset, quantity, unit_price, item_id, open}
        self.orders: dict[str, dict] = {}  # order id -> {item_id, code, status}
        self.bids: dict[int, dict] = {}  # buy order id -> {asset, max_unit_price, open}

    # -- plumbing ---------------------------------------------------------------------------------

    def headers(self, actor: str) -> dict:
        if actor == "issuer":
            return {"Authorization": f"Api-Key {self.issuer_key}"}
        token = self.staff["token"] if actor == "staff" else self.user["token"]
        return {"Authorization": f"Bearer {token}"}

    def next_key(self) -> str:
        return f"{self.run_id}-{self.index:02d}-{len(self.ops):05d}"

    def op(self, kind, *, actor="customer", path, body=None, params=None, key=None, replay_of=None) -> Op:
        return Op(
            client=self.index,
            seq=len(self.ops),
            kind=kind,
            key=key or self.next_key(),
            actor=actor,
            method="POST",
            path=f"{API}/{path}",
            body=body,
            params=params or {},
            replay_of=replay_of,
        )

    def execute(self, op: Op, *, reconcile=None) -> Op:
        """Send `op` until a definite answer; after a lost answer, `reconcile(op)` may find its effect."""
        self.ops.append(op)
        op.started = time.monotonic()
        delay = 0.05
        while True:
            op.attempts += 1
            headers = {**self.headers(op.actor), "Idempotency-Key": op.key}
            try:
                reply = http_call(self.port, op.method, op.path, body=op.body, headers=headers)
            except TransportError as error:
                self.stats.transport(error)
                reply = None
            else:
                self.stats.reply(reply, op.method, op.path)
                if reply.status < 500:
                    op.status, op.reply = reply.status, reply.body
                    op.outcome = "ok" if reply.status < 300 else "refused"
                    break
            op.ambiguous += 1
            if time.monotonic() - op.started > RETRY_BUDGET:
                op.outcome = "indeterminate"
                break
            time.sleep(delay * (0.5 + self.jitter.random()))
            delay = min(delay * 2, 2.0)
            if reconcile is not None:
                found = reconcile(op)
                if found:
                    op.outcome, op.adopted = "reconciled", found
                    break
        op.finished = time.monotonic()
        return op

    def read(self, path: str, *, actor="customer"):
        """GET until it answers 200 (reads are always safe to repeat); None past the retry budget."""
        started, delay = time.monotonic(), 0.05
        while time.monotonic() - started < RETRY_BUDGET:
            try:
                reply = http_call(self.port, "GET", f"{API}/{path}", headers=self.headers(actor))
            except TransportError as error:
                self.stats.transport(error)
            else:
                self.stats.reply(reply, "GET", path)
                if reply.status == 200:
                    return reply.body
                if reply.status < 500:
                    return None
            time.sleep(delay * (0.5 + self.jitter.random()))
            delay = min(delay * 2, 2.0)
        return None

    def replay(self, original: Op) -> None:
        """Sometimes send an acknowledged write again with its key: it must answer the original."""
        if original.outcome == "ok" and self.rng.random() < self.replay_rate:
            again = self.op(
                original.kind,
                actor=original.actor,
                path=original.path.removeprefix(f"{API}/"),
                body=original.body,
                params=original.params,
                key=original.key,
                replay_of=original.seq,
            )
            self.execute(again)

    # -- the workload -----------------------------------------------------------------------------

    def run(self):
        try:
            self.fund()
            while not self.stop.is_set():
                self.step()
        except Exception:
            self.crash = traceback.format_exc()

    def fund(self):
        self.grant_asset("DIAMOND", 3000)
        for material in self.rng.sample(MATERIALS, 2):
            self.grant_asset(material, 30)
        self.grant_item("voucher")
        self.grant_item("product")

    def step(self):
        actions = [
            (self.action_grant_asset, 6),
            (self.action_grant_item, 5),
            (self.action_list_asset, 10),
            (self.action_list_item, 4),
            (self.action_purchase, 22),
            (self.action_cancel_listing, 5),
            (self.action_bid, 8),
            (self.action_cancel_bid, 3),
            (self.action_order_create, 6),
            (self.action_fulfil, 6),
            (self.action_order_cancel, 2),
            (self.action_order_again, 1),
            (self.action_read, 4),
        ]
        if self.caps.gifts:
            actions.append((self.action_gift, 4))
        action = self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]
        action()

    def grant_asset(self, asset: str, amount: int) -> Op:
        key = self.next_key()
        body = {
            "user_id": self.user["id"],
            "asset_code": asset,
            "amount": amount,
            "business_type": GRANT_BUSINESS_TYPE,
            "business_id": key,
        }
        op = self.execute(
            self.op("grant_asset", actor="issuer", path="grants/assets", body=body, params=body.copy(), key=key)
        )
        if op.outcome == "ok":
            self.assets[asset] += amount
        self.replay(op)
        return op

    def grant_item(self, item_type: str) -> Op:
        key = self.next_key()
        merchant = self.merchant_code if item_type in REDEEMABLE and self.rng.random() < 0.5 else None
        body = {
            "user_id": self.user["id"],
            "item_type": item_type,
            "name": f"torture {item_type}",
            "meta": {"value": self.rng.randint(100, 5000)},
            "merchant_code": merchant,
            "source": ITEM_SOURCE,
            "business_id": key,
        }
        op = self.execute(
            self.op("grant_item", actor="issuer", path="grants/items", body=body, params=body.copy(), key=key)
        )
        if op.outcome == "ok":
            self.items[op.reply["item_instance_id"]] = {"type": item_type, "status": "available"}
        self.replay(op)
        return op

    def action_grant_asset(self):
        asset = self.rng.choice(("DIAMOND", *MATERIALS))
        self.grant_asset(asset, self.rng.randint(50, 800) if asset == "DIAMOND" else self.rng.randint(1, 25))

    def action_grant_item(self):
        self.grant_item(self.rng.choice(ITEM_TYPES))

    def open_listings(self) -> list[int]:
        return [pk for pk, listing in self.listings.items() if listing["open"]]

    def action_list_asset(self):
        held = [m for m in MATERIALS if self.assets[m] > 0]
        if not held or len(self.open_listings()) >= MAX_OPEN_LISTINGS:
            return
        asset = self.rng.choice(held)
        quantity = self.rng.randint(1, min(self.assets[asset], 10))
        # Now and then at the best bid: the listing fills against buy orders as it is created.
        bids = (self.book(asset) or {}).get("bids") if self.rng.random() < 0.4 else None
        price = bids[0]["unit_price"] if bids else self.rng.randint(1, 40)
        body = {"asset_code": asset, "quantity": quantity, "unit_price": price}
        self.list_for_sale(body, {"listing_type": "asset", **body})

    def book(self, asset: str) -> dict | None:
        return self.read(f"market/book?asset_code={asset}&depth=5")

    def action_bid(self):
        """A buy order: half the time at the lowest ask (it fills at once, in part or whole), else under it."""
        if sum(bid["open"] for bid in self.bids.values()) >= MAX_OPEN_BIDS:
            return
        asset = self.rng.choice(MATERIALS)
        asks = (self.book(asset) or {}).get("asks") or [{"unit_price": self.rng.randint(2, 40)}]
        price = asks[0]["unit_price"] if self.rng.random() < 0.5 else self.rng.randint(1, asks[0]["unit_price"])
        quantity = self.rng.randint(1, 6)
        if price * quantity > self.assets["DIAMOND"]:
            return
        body = {"asset_code": asset, "quantity": quantity, "max_unit_price": price}
        op = self.execute(self.op("buy_order_place", path="market/buy-orders", body=body, params=body.copy()))
        if op.outcome == "ok":
            # All of it frozen; what fills under the price comes back without the client knowing: a lower bound.
            self.assets["DIAMOND"] -= price * quantity
            self.assets[asset] += quantity - op.reply["quantity_remaining"]
            self.bids[op.reply["id"]] = {"asset": asset, "max_unit_price": price, "open": op.reply["status"] == "open"}
        self.replay(op)

    def action_cancel_bid(self):
        open_ids = [pk for pk, bid in self.bids.items() if bid["open"]]
        if not open_ids:
            return
        order_id = self.rng.choice(open_ids)
        bid = self.bids[order_id]
        op = self.execute(
            self.op("buy_order_cancel", path=f"market/buy-orders/{order_id}/cancel", params={"buy_order_id": order_id})
        )
        if op.outcome == "ok":
            bid["open"] = False
            self.assets["DIAMOND"] += op.reply["quantity_remaining"] * bid["max_unit_price"]
        elif op.outcome == "refused" and op.error_code == "buy_order_not_open":
            bid["open"] = False  # filled by a listing meanwhile (or cancelled by a lost attempt of this one)
        self.replay(op)

    def action_list_item(self):
        available = [pk for pk, item in self.items.items() if item["status"] == "available"]
        if not available or len(self.open_listings()) >= MAX_OPEN_LISTINGS:
            return
        item_id = self.rng.choice(available)
        body = {"item_instance_id": item_id, "unit_price": self.rng.randint(5, 300)}
        self.list_for_sale(body, {"listing_type": "item", **body})

    def list_for_sale(self, body: dict, params: dict) -> Op:
        reconcile = None if self.caps.listing_keys else self.find_listing
        op = self.execute(
            self.op("listing_create", path="market/listings", body=body, params=params), reconcile=reconcile
        )
        ids = op.adopted if op.outcome == "reconciled" else ([op.reply["id"]] if op.outcome == "ok" else [])
        for listing_id in ids:
            self.listings[listing_id] = {
                "type": params["listing_type"],
                "asset": params.get("asset_code"),
                "quantity": params.get("quantity"),
                "unit_price": params["unit_price"],
                "item_id": params.get("item_instance_id"),
                "open": True,
            }
            if params["listing_type"] == "asset":
                self.assets[params["asset_code"]] -= params["quantity"]
            else:
                self.items[params["item_instance_id"]].update(status="locked", listing=listing_id)
        if op.outcome == "ok" and self.caps.listing_keys:
            self.replay(op)
        return op

    def find_listing(self, op: Op) -> list[int] | None:
        """Without server-side keys: after a lost answer, look for the listing among the caller's own
        before sending the create again (one client per user, so nothing else creates them)."""
        page = self.read("market/listings/mine?page_size=200")
        if page is None:
            return None
        params = op.params
        return [
            row["id"]
            for row in page["results"]
            if row["id"] not in self.listings
            and row["listing_type"] == params["listing_type"]
            and row["unit_price"] == params["unit_price"]
            and row["asset_code"] == params.get("asset_code")
            and row["quantity"] == params.get("quantity")
            and row["item_instance_id"] == params.get("item_instance_id")
        ] or None

    def action_purchase(self):
        listing_type = self.rng.choice(("asset", "asset", "asset", "item"))
        ordering = self.rng.choice(("-created_at", "unit_price", "created_at"))
        page = self.read(f"market/listings?listing_type={listing_type}&ordering={ordering}&page_size=50")
        if not page:
            return
        candidates = [row for row in page["results"] if row["seller_id"] != self.user["id"]]
        if not candidates:
            return
        listing = self.rng.choice(candidates)
        if listing_type == "asset":
            quantity = self.rng.randint(1, min(listing["quantity_remaining"], 5))
            body = {"quantity": quantity}
        else:
            quantity, body = 1, {}
        if listing["unit_price"] * quantity > self.assets["DIAMOND"]:
            return
        params = {
            "listing_id": listing["id"],
            "listing_type": listing_type,
            "quantity": quantity,
            "buyer_id": self.user["id"],
            "seller_id": listing["seller_id"],
            "asset_code": listing["asset_code"],
            "item_instance_id": listing["item_instance_id"],
            "item_type": listing["item_type"],
        }
        op = self.execute(
            self.op("purchase", path=f"market/listings/{listing['id']}/purchase", body=body, params=params)
        )
        if op.outcome == "ok":
            trade = op.reply
            self.assets[trade["price_asset_code"]] -= trade["total"]
            if listing_type == "asset":
                self.assets[trade["asset_code"]] += trade["quantity"]
            else:
                self.items[trade["item_instance_id"]] = {"type": listing["item_type"], "status": "available"}
        self.replay(op)

    def action_cancel_listing(self):
        open_ids = self.open_listings()
        if not open_ids:
            return
        listing_id = self.rng.choice(open_ids)
        listing = self.listings[listing_id]
        op = self.execute(
            self.op("listing_cancel", path=f"market/listings/{listing_id}/cancel", params={"listing_id": listing_id})
        )
        if op.outcome == "ok":
            self.closed(listing_id, op.reply)
        elif op.outcome == "refused" and op.error_code == "listing_not_on_sale":
            state = self.read(f"market/listings/{listing_id}")
            op.params["state_after"] = state
            if state is not None:
                self.closed(listing_id, state)
            else:
                listing["open"] = False

    def closed(self, listing_id: int, state: dict) -> None:
        """The listing is off sale: take back what a cancel released, forget an item that was sold (unless
        the client has bought it back since: then it is no longer this listing's)."""
        listing = self.listings[listing_id]
        listing["open"] = False
        if listing["type"] == "asset":
            if state["status"] == "cancelled":
                self.assets[listing["asset"]] += state["quantity_remaining"]
            return
        item = self.items.get(listing["item_id"])
        if item is None or item.get("listing") != listing_id:
            return
        if state["status"] == "cancelled":
            item.update(status="available", listing=None)
        else:
            del self.items[listing["item_id"]]

    def action_order_create(self):
        ready = [pk for pk, item in self.items.items() if item["status"] == "available" and item["type"] in REDEEMABLE]
        if ready:
            self.order_create(self.rng.choice(ready))

    def action_order_again(self):
        """The customer lost the code: asking again cancels the old order and issues a new code."""
        pending = [order["item_id"] for order in self.orders.values() if order["status"] == "pending"]
        if pending:
            self.order_create(self.rng.choice(pending))

    def order_create(self, item_id: int) -> Op:
        op = self.execute(
            self.op("order_create", path=f"items/{item_id}/redemption-orders", params={"item_instance_id": item_id})
        )
        if op.outcome == "ok":
            for order in self.orders.values():
                if order["item_id"] == item_id and order["status"] == "pending":
                    order["status"] = "replaced"
            self.orders[op.reply["order_id"]] = {"item_id": item_id, "code": op.reply["code"], "status": "pending"}
            self.items[item_id]["status"] = "locked"
        return op

    def pending_orders(self) -> list[str]:
        return [pk for pk, order in self.orders.items() if order["status"] == "pending"]

    def action_fulfil(self):
        pending = self.pending_orders()
        if not pending:
            return
        order_id = self.rng.choice(pending)
        order = self.orders[order_id]
        params = {"order_id": order_id, "item_instance_id": order["item_id"], "staff_id": self.staff["id"]}
        body = {"code": order["code"]}
        self.execute(self.op("lookup", actor="staff", path="merchant/redemptions/lookup", body=body, params=params))
        op = self.execute(
            self.op("fulfil", actor="staff", path="merchant/redemptions/fulfil", body=body, params=params)
        )
        if op.outcome == "ok":
            order["status"] = "fulfilled"
            self.items.pop(order["item_id"], None)
        self.replay(op)

    def action_order_cancel(self):
        pending = self.pending_orders()
        if not pending:
            return
        order_id = self.rng.choice(pending)
        order = self.orders[order_id]
        op = self.execute(
            self.op(
                "order_cancel",
                path=f"redemption-orders/{order_id}/cancel",
                params={"order_id": order_id, "item_instance_id": order["item_id"]},
            )
        )
        if op.outcome == "ok" or op.error_details.get("status") == "cancelled":
            order["status"] = "cancelled"
            self.items[order["item_id"]]["status"] = "available"

    def action_gift(self):
        to = self.rng.choice(self.others)
        held = [m for m in MATERIALS if self.assets[m] > 0]
        loose = [pk for pk, item in self.items.items() if item["status"] == "available"]
        if loose and self.rng.random() < 0.3:
            item_id = self.rng.choice(loose)
            body = {"to_username": to["username"], "item_instance_id": item_id, "message": "torture"}
        elif held:
            asset = self.rng.choice(held)
            body = {
                "to_username": to["username"],
                "asset_code": asset,
                "amount": self.rng.randint(1, self.assets[asset]),
            }
        else:
            return
        params = {**body, "to_user_id": to["id"]}
        op = self.execute(self.op("gift", path="gifts", body=body, params=params))
        if op.outcome == "ok":
            if "item_instance_id" in body:
                self.items.pop(body["item_instance_id"])
            else:
                self.assets[body["asset_code"]] -= body["amount"]
        self.replay(op)

    def action_read(self):
        self.read(
            self.rng.choice(
                (
                    "backpack",
                    "assets",
                    "market/trades",
                    "redemption-orders",
                    "market/listings/mine",
                    "market/buy-orders/mine",
                )
            )
        )
