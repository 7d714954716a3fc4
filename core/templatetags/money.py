from django import template

from core.money import face_value_shown
from core.money import money as format_money

register = template.Library()


@register.filter
def money(minor) -> str:
    """{{ item.meta.value|money }}: minor units as money in the site's currency (3800 → ¥38.00)."""
    return format_money(minor)


@register.filter
def face_value(meta) -> str:
    """{{ item.meta|face_value }}: an item's face value as money, an old row's value that is none marked."""
    return face_value_shown(meta)
