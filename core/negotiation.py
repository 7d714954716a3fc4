from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation


class JSONWhateverAcceptNegotiation(DefaultContentNegotiation):
    """JSON even to a client that asks for something else (`Accept: text/html`): the API has no other form.

    Not in core/api.py: DRF's settings import that module while DRF itself loads (see core/viewsets.py).
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
