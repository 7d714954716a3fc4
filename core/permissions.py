from rest_framework.permissions import BasePermission


def has_permission(perm: str) -> type[BasePermission]:
    """A DRF permission class for an early 403: an authenticated user granted `perm`.

    The service checks the same permission again with the actor: this only answers sooner.
    """

    class HasPermission(BasePermission):
        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(perm))

    HasPermission.__name__ = f"Has_{perm.replace('.', '_')}"
    return HasPermission
