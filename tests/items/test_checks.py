"""The registry of expiry closers is checked at start-up (items/checks.py)."""

import pytest
from django.core import checks

from items.locks import MARKET_HOLDER, REDEMPTION_HOLDER, HolderKind
from items.services import holder_expiry_register
from items.services.expiry import EXPIRY_CLOSERS


def item_errors() -> list[str]:
    return [message.msg for message in checks.run_checks() if message.id == "items.E001"]


def test_every_holder_kind_has_its_closer_registered():
    assert item_errors() == []


def test_a_holder_kind_without_a_closer_is_refused_at_start_up(monkeypatch):
    monkeypatch.delitem(EXPIRY_CLOSERS, MARKET_HOLDER.name)

    assert item_errors() == [
        "Items locked by a 'market' holder have no expiry closer: the expiry sweep could not end them"
    ]


def test_a_second_closer_for_a_kind_is_refused():
    with pytest.raises(ValueError, match="has a closer already"):
        holder_expiry_register(REDEMPTION_HOLDER, lambda reference: False)


def test_a_closer_for_an_undeclared_kind_is_refused():
    with pytest.raises(ValueError, match="HOLDER_KINDS"):
        holder_expiry_register(HolderKind("gifts"), lambda reference: False)
