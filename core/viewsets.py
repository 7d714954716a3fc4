"""The API's router and the base of its viewsets.

Not in core/api.py: DRF's settings import that module (the pagination, the exception handler) while DRF
itself loads, so importing DRF's viewsets from there is circular.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.metadata import SimpleMetadata
from rest_framework.routers import Route, SimpleRouter
from rest_framework.viewsets import GenericViewSet


class ApiRouter(SimpleRouter):
    """The API's URLs: no trailing slash, and Django's path converters (`<int:item_id>`, `<uuid:order_id>`)
    from each viewset's `lookup_url_kwarg` and `lookup_value_converter`.

    One route more than SimpleRouter: `show`, a GET on the prefix itself for a resource the caller has one
    of (their balances, their backpack). It answers one object where `list` answers a page, and the schema
    documents it so. It shares its URL with `list` and `create`, so a viewset has one or the others.
    """

    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$", mapping={"get": "show"}, name="{basename}", detail=False, initkwargs={}
        ),
        *SimpleRouter.routes,
    ]

    def __init__(self):
        super().__init__(trailing_slash=False, use_regex_path=False)

    def get_routes(self, viewset):
        if hasattr(viewset, "show") and (hasattr(viewset, "list") or hasattr(viewset, "create")):
            raise ImproperlyConfigured(f"{viewset.__name__}: `show` would share its URL with `list` or `create`.")
        return super().get_routes(viewset)


class NoActionsMetadata(SimpleMetadata):
    """OPTIONS without `actions`: DRF derives them from `serializer_class`, which in these viewsets is what
    they answer with, never what they accept (the input serializers are separate)."""

    def determine_actions(self, request, view):
        return {}


# No docstring: drf-spectacular would show a base class's docstring as every operation's description.
class ApiViewSet(GenericViewSet):
    metadata_class = NoActionsMetadata

    def get_serializer_class(self):
        # The browsable API asks every generic view for a serializer to draw its forms. A viewset that only
        # takes input (a grant, a verification) has no serializer_class, and draws an empty form.
        return self.serializer_class or serializers.Serializer
