"""Who may move value (SPEC §10): a permission, checked in the service with the actor passed in.

`is_staff` only opens the admin's door; nothing here looks at it. The roles are groups with
explicit permissions (operations/migrations/0002_roles.py), merchant staff are members of a
Merchant, and a superuser has every permission.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.errors import Forbidden, NotFound
from core.models import IssuerKey

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


def is_service_account(user) -> bool:
    """Whether `user` is a service's account (a prize issuer: in its group, or holding an API key, revoked or
    not), not a person's: such an account only grants, and receives nothing (issue 20). One query."""
    return (
        get_user_model()
        .objects.filter(pk=user.pk)
        .filter(Q(groups__name=ISSUER_GROUP) | Q(pk__in=IssuerKey.objects.values("issuer_id")))
        .exists()
    )
