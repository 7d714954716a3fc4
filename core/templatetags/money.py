from django import template

from core.money import money as format_money

register = template.Library()


@register.filter
def money(minor) -> str:
    """{{ item.meta.value|money }}: minor units as money in the site's currency (3800 → ¥38.00)."""
    return format_money(minor)
