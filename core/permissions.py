from rest_framework.permissions import BasePermission


def staff_or_permission(perm: str) -> type[BasePermission]:
    """A DRF permission class: staff, or a user granted `perm` (for example a service account)."""

    class StaffOrPermission(BasePermission):
        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and (user.is_staff or user.has_perm(perm)))

    StaffOrPermission.__name__ = f"StaffOr_{perm.replace('.', '_')}"
    return StaffOrPermission
