from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.admin_tools import ReadOnlyModelAdmin
from core.client_ip import client_ip
from core.errors import BackpackError
from core.money import face_value_shown, money
from core.timeseries import local_midnight
from redemption import selectors, services
from redemption.models import CodeVerification, Merchant, RedemptionAttempt, RedemptionOrder
from redemption.settlement import settlement_view

VERIFY_PERMISSION = "redemption.verify_code"


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("code", "name")
    filter_horizontal = ("staff",)

    def get_readonly_fields(self, request, obj=None):
        # Items are restricted by this code: it is fixed once created.
        return ("code",) if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        settlement = path(
            "settlement/",
            self.admin_site.admin_view(self.settlement_view),
            name="redemption_merchant_settlement",
        )
        return [settlement, *super().get_urls()]

    def settlement_view(self, request):
        """Redemptions per merchant for a period, by voucher, with CSV export: for whoever may read orders."""
        if not request.user.has_perm("redemption.view_redemptionorder"):
            raise PermissionDenied
        return settlement_view(request, context={**self.admin_site.each_context(request), "opts": self.opts})

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Staff added here also get the verify page (the "merchant staff" group).
        for user in form.instance.staff.all():
            services.merchant_staff_add(merchant_id=form.instance.pk, user_id=user.pk)


@admin.register(RedemptionOrder)
class RedemptionOrderAdmin(ReadOnlyModelAdmin):
    list_display = (
        "order_id",
        "item_instance",
        "value",
        "customer",
        "status",
        "merchant",
        "redeemer",
        "expires_at",
        "fulfilled_at",
    )
    # Dates filter by ranges: a date_hierarchy truncates in SQL with CONVERT_TZ, which fails
    # ("invalid datetime value") on a MariaDB without time-zone tables.
    list_filter = ("status", "merchant", "created_at", "fulfilled_at")
    search_fields = ("=order_id", "customer__username", "customer__email", "item_instance__name")
    list_select_related = ("item_instance", "customer", "merchant", "redeemer")
    exclude = ("code_hash",)

    @admin.display(description="Value")
    def value(self, order):
        """As money: the face value recorded at fulfilment, else the item's `meta.value` today."""
        if order.face_value is not None:
            return money(order.face_value)
        return face_value_shown(order.item_instance.meta)


@admin.register(RedemptionAttempt)
class RedemptionAttemptAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "kind", "outcome", "staff_user", "merchant", "ip", "order")
    list_filter = ("outcome", "kind", "merchant", "created_at")  # no date_hierarchy: see the orders
    search_fields = ("staff_user__username", "=ip")
    list_select_related = ("staff_user", "merchant", "order")


@admin.register(CodeVerification)
class CodeVerificationAdmin(admin.ModelAdmin):
    """The "Verify redemption code" page: enter a code, see the item, confirm to fulfil.

    Its changelist URL is the page, so the admin index links to it for whoever holds
    `redemption.verify_code` (the "merchant staff" group).
    """

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VERIFY_PERMISSION)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.verify_view), name="{}_{}_changelist".format(*info))]

    def verify_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        code = (request.POST.get("code") or "").strip()
        verification = None
        if request.method == "POST" and code:
            action = services.order_fulfil if request.POST.get("action") == "confirm" else services.order_lookup
            try:
                verification = action(code=code, staff_user_id=request.user.pk, ip=client_ip(request))
            except BackpackError as refusal:
                messages.error(request, f"Refused: {refusal.message}")
            else:
                if action is services.order_fulfil:
                    messages.success(
                        request,
                        f"Redeemed: {verification.item.name} for {selectors.masked_name(verification.order.customer)}. "
                        "Hand over the goods.",
                    )
                    code = ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Verify redemption code",
            "code": code,
            "verification": verification,
            "customer": selectors.masked_name(verification.order.customer) if verification else "",
            "counter_totals": self.counter_totals(request.user.pk),
        }
        return TemplateResponse(request, "admin/redemption/verify.html", context)

    @staticmethod
    def counter_totals(user_id: int) -> list[dict]:
        """What each of the user's merchants redeemed today and this month (days of TIME_ZONE): two queries."""
        merchants = selectors.merchants_of_staff(user_id=user_id)
        if not merchants:
            return []
        now = timezone.now()
        today = timezone.localdate(now)
        totals = selectors.counter_totals(
            merchant_ids=[m["id"] for m in merchants],
            day_start=local_midnight(today),
            month_start=local_midnight(today.replace(day=1)),
            now=now,
        )
        return [{**merchant, **totals[merchant["id"]]} for merchant in merchants]
