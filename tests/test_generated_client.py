"""The schema is usable by the clients people generate from it (issue 12): openapi-python-client generates a
package from the live /api/schema/, the package imports, and a whole customer, merchant and operator journey
runs through it against a live server, errors included."""

import importlib
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from redemption.services import merchant_get_or_create, merchant_staff_add
from tests.factories import PASSWORD, OperatorFactory, StaffFactory, UserFactory

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def client_package(live_server, tmp_path, monkeypatch):
    """The package generated from the live schema, imported as `backpack_client`."""
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json", timeout=30) as response:
        schema.write_bytes(response.read())
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")
    package = tmp_path / "backpack_client"
    result = subprocess.run(
        [GENERATOR, "generate", "--path", schema, "--meta", "none", "--output-path", package, "--config", config],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] == "backpack_client"]:
        del sys.modules[name]
    yield importlib.import_module("backpack_client")


def endpoint(name: str):
    return importlib.import_module(f"backpack_client.api.v4.{name}")


def model(name: str):
    return getattr(importlib.import_module("backpack_client.models"), name)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_generated_client_walks_the_customer_merchant_and_operator_journey(live_server, client_package):
    from backpack_client import AuthenticatedClient, Client

    seller, buyer, operator, cashier, colleague = (
        UserFactory(),
        UserFactory(),
        OperatorFactory(),
        StaffFactory(),
        StaffFactory(),
    )
    merchant = merchant_get_or_create(code="NOODLE", name="Noodle House")
    for staff in (cashier, colleague):
        merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)

    def login(user):
        body = model("TokenObtainPairRequest")(username=user.username, password=PASSWORD)
        tokens = endpoint("v4_auth_token_create").sync(client=anonymous, body=body)
        assert isinstance(tokens, model("TokenObtainPair")), tokens
        return AuthenticatedClient(base_url=live_server.url, token=tokens.access, raise_on_unexpected_status=True)

    as_operator, as_seller, as_buyer, as_cashier = (login(u) for u in (operator, seller, buyer, cashier))

    # The operator grants: DIAMOND to the buyer, shards and a voucher to the seller.
    grant_assets = endpoint("v4_grants_assets_create")
    for user, asset, amount in ((buyer, "DIAMOND", 500), (seller, "red_shard", 20)):
        body = model("AssetGrantInputRequest")(
            user_id=user.pk, asset_code=asset, amount=amount, business_type="lottery_prize", business_id=f"p-{user.pk}"
        )
        granted = grant_assets.sync(client=as_operator, body=body)
        assert isinstance(granted, model("AssetGrantOutput")), granted
    voucher_body = model("ItemGrantInputRequest")(
        user_id=seller.pk,
        item_type=model("ItemTypeEnum")("voucher"),
        name="Set lunch",
        business_id="v-1",
        merchant_code="NOODLE",
    )
    voucher = endpoint("v4_grants_items_create").sync(client=as_operator, body=voucher_body)
    assert isinstance(voucher, model("ItemOutput")), voucher

    # The seller sees the backpack and lists shards, retrying once as a client that lost the response would.
    backpack = endpoint("v4_backpack_retrieve").sync(client=as_seller)
    assert {a.asset_code for a in backpack.assets} == {"red_shard"}
    assert [i.item_instance_id for i in backpack.items] == [voucher.item_instance_id]
    create_listing = endpoint("v4_market_listings_create")
    listing_body = model("ListingCreateInputRequest")(asset_code="red_shard", quantity=10, unit_price=7)
    key = str(uuid.uuid4())
    listing = create_listing.sync(client=as_seller, body=listing_body, idempotency_key=key)
    again = create_listing.sync(client=as_seller, body=listing_body, idempotency_key=key)
    assert isinstance(listing, model("ListingOutput")), listing
    assert again.id == listing.id

    # The buyer browses, buys, and sees the trade; buying too much is an error in the envelope.
    page = endpoint("v4_market_listings_list").sync(client=as_buyer, asset_code="red_shard")
    assert [entry.id for entry in page.results] == [listing.id]
    purchase = endpoint("v4_market_listings_purchase_create")
    trade = purchase.sync(
        listing.id, client=as_buyer, body=model("PurchaseInputRequest")(quantity=4), idempotency_key="buy-1"
    )
    assert isinstance(trade, model("TradeOutput")), trade
    assert (trade.total, trade.fee, trade.seller_amount) == (28, 1, 27)
    refused = purchase.sync(listing.id, client=as_buyer, body=model("PurchaseInputRequest")(quantity=99))
    assert isinstance(refused, model("Error")) and refused.error.code == "quantity_exceeds_remaining"
    trades = endpoint("v4_market_trades_list").sync(client=as_buyer)
    assert [t.id for t in trades.results] == [trade.id]

    # The buyer bids for 8 more at up to 8: the 6 left fill at once at 7, the other 2 rest on the book; the
    # buyer cancels them, and what was still held comes back.
    bid_body = model("BuyOrderCreateInputRequest")(asset_code="red_shard", quantity=8, max_unit_price=8)
    bid = endpoint("v4_market_buy_orders_create").sync(client=as_buyer, body=bid_body, idempotency_key="bid-1")
    assert isinstance(bid, model("BuyOrderPlacedOutput")), bid
    assert (bid.quantity_remaining, [(f.quantity, f.unit_price) for f in bid.fills]) == (2, [(6, 7)])
    book = endpoint("v4_market_book_retrieve").sync(client=as_buyer, asset_code="red_shard")
    assert ([(b.unit_price, b.quantity) for b in book.bids], book.asks) == ([(8, 2)], [])
    cancelled = endpoint("v4_market_buy_orders_cancel_create").sync(bid.id, client=as_buyer)
    assert isinstance(cancelled, model("BuyOrderOutput")) and cancelled.status == "cancelled"

    # The seller turns the voucher into a code; the cashier looks it up and fulfils it.
    order = endpoint("v4_items_redemption_orders_create").sync(
        voucher.item_instance_id, client=as_seller, idempotency_key="redeem-1"
    )
    assert isinstance(order, model("OrderCreatedOutput")), order
    code_body = model("CodeInputRequest")(code=order.code)
    looked_up = endpoint("v4_merchant_redemptions_lookup_create").sync(client=as_cashier, body=code_body)
    assert looked_up.item.item_instance_id == voucher.item_instance_id
    fulfilled = endpoint("v4_merchant_redemptions_fulfil_create").sync(client=as_cashier, body=code_body)
    assert isinstance(fulfilled, model("VerificationOutput")), fulfilled
    assert fulfilled.order.status == "fulfilled"
    # The cashier's answer was lost: sending the fulfil again gets the original; a colleague is refused.
    retried = endpoint("v4_merchant_redemptions_fulfil_create").sync(client=as_cashier, body=code_body)
    assert retried.to_dict() == fulfilled.to_dict()
    used_again = endpoint("v4_merchant_redemptions_fulfil_create").sync(client=login(colleague), body=code_body)
    assert isinstance(used_again, model("Error")) and used_again.error.code == "code_already_used"

    # The seller's item is used, its history says so; the buyer's balance paid for the shards.
    item = endpoint("v4_items_retrieve").sync(voucher.item_instance_id, client=as_seller)
    assert item.status == "used"
    events = endpoint("v4_items_events_list").sync(voucher.item_instance_id, client=as_seller)
    assert events.results[0].event_type == "used"
    assets = endpoint("v4_assets_retrieve").sync(client=as_buyer)
    assert {a.asset_code: a.available_amount for a in assets.assets} == {"DIAMOND": 472 - 42, "red_shard": 4 + 6}
    orders = endpoint("v4_redemption_orders_list").sync(client=as_seller)
    assert [o.status for o in orders.results] == ["fulfilled"]
