"""Who may move value (SPEC §10): a permission, checked in the service with the actor passed in.

`is_staff` only opens the admin's door; nothing here looks at it. The roles are groups with
explicit permissions (operations/migrations/0002_roles.py), merchant staff are members of a
Merchant, and a superuser has every permission.
"""

from django.contrib.auth import get_user_model

from core.errors import Forbidden, NotFound

OPERATOR_GROUP = "operator"
ISSUER_GROUP = "prize issuer"


def require_permission(actor, permission: str) -> None:
    """Raise Forbidden unless `actor` is an active user holding `permission`."""
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise Forbidden("You may not do this.", permission=permission)


def actor_by_username(username: str):
    """The user a management command acts as (its --operator): commands get the answers the API gets."""
    actor = get_user_model().objects.filter(username=username).first()
    if actor is None:
        raise NotFound(f"No user {username!r}: --operator names the user you act as.")
    return actor
