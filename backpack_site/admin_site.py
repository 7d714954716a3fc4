"""The admin as the platform's back office: its name, an index that leads to the operator pages,
and merchant staff taken straight to the counter after they log in."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

VERIFY_PAGE = "admin:redemption_codeverification_changelist"


class BackpackAdminSite(admin.AdminSite):
    site_header = "Backpack back office"
    site_title = "Backpack back office"
    index_title = "Back office"
    index_template = "admin/backpack_index.html"

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        if (
            request.method == "POST"
            and isinstance(response, HttpResponseRedirect)
            and response.url == reverse("admin:index", current_app=self.name)
            and self._counter_only(request)
        ):
            return HttpResponseRedirect(reverse(VERIFY_PAGE, current_app=self.name))
        return response

    def _counter_only(self, request) -> bool:
        """The user can open the verify page and nothing else of the admin (merchant staff)."""
        if not request.user.has_perm("redemption.verify_code"):
            return False
        models = [model for app in self.get_app_list(request) for model in app["models"]]
        return [model["object_name"] for model in models] == ["CodeVerification"]
