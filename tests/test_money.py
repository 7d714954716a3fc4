import pytest

from core.money import money


@pytest.mark.parametrize(
    ("minor", "shown"),
    [
        (3800, "¥38.00"),
        (5, "¥0.05"),
        (0, "¥0.00"),
        (-1250, "-¥12.50"),
        (123456789, "¥1,234,567.89"),
        ("3800", "¥38.00"),
    ],
)
def test_minor_units_read_as_money(minor, shown):
    assert money(minor) == shown


@pytest.mark.parametrize(("minor", "shown"), [(None, ""), ("", ""), ("38元", "38元"), (True, "True")])
def test_what_is_not_an_amount_is_shown_as_it_is(minor, shown):
    assert money(minor) == shown


def test_the_currency_comes_from_settings(settings):
    settings.CURRENCY_SYMBOL, settings.CURRENCY_DECIMALS = "JP¥", 0

    assert money(3800) == "JP¥3,800"
