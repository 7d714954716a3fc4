"""The settlement report: redemptions per merchant for a period, by voucher, on screen and as CSV.

The numbers restaurants and the platform settle on: fulfilled orders counted by the day
(of TIME_ZONE) they were fulfilled, with the face value (`meta.value`, minor units) of their
items. Aggregated in SQL, one query per report, whatever the number of redemptions.
"""

import csv
from datetime import date, timedelta

from django import forms
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from core.money import amount
from core.timeseries import local_midnight
from redemption import selectors
from redemption.models import Merchant


class SettlementForm(forms.Form):
    merchant = forms.ModelChoiceField(
        queryset=Merchant.objects.order_by("code"), required=False, empty_label="All merchants"
    )
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


def _this_month(today: date) -> dict:
    return {"start": today.replace(day=1), "end": today}


def settlement_view(request, *, context: dict):
    """GET: the form and the report for the period asked (this month so far by default); `?export=csv` downloads it."""
    today = timezone.localdate()
    form = SettlementForm(request.GET if "start" in request.GET else None, initial=_this_month(today))
    if form.is_bound and not form.is_valid():
        return TemplateResponse(
            request, "admin/redemption/settlement.html", {**context, "title": "Settlement report", "form": form}
        )
    choice = form.cleaned_data if form.is_bound else {"merchant": None, **_this_month(today)}
    since, until = local_midnight(choice["start"]), local_midnight(choice["end"] + timedelta(days=1))
    merchant = choice["merchant"]
    if merchant:
        rows = selectors.settlement_by_voucher(merchant_id=merchant.pk, since=since, until=until)
    else:
        rows = selectors.settlement_by_merchant(since=since, until=until)
    total = {"count": sum(r["count"] for r in rows), "face_value": sum(r["face_value"] for r in rows)}
    if request.GET.get("export") == "csv":
        return _csv(rows, total, merchant=merchant, start=choice["start"], end=choice["end"])
    return TemplateResponse(
        request,
        "admin/redemption/settlement.html",
        {
            **context,
            "title": "Settlement report",
            "form": form,
            "merchant": merchant,
            "start": choice["start"],
            "end": choice["end"],
            "rows": rows,
            "total": total,
            "csv_query": f"{request.GET.urlencode() or _default_query(choice)}&export=csv",
        },
    )


def _default_query(choice: dict) -> str:
    return f"start={choice['start'].isoformat()}&end={choice['end'].isoformat()}"


def _csv(rows: list[dict], total: dict, *, merchant: Merchant | None, start: date, end: date) -> HttpResponse:
    """One line per voucher (one merchant) or per merchant (all), then a TOTAL line; face values
    exact in minor units and as a decimal amount of the currency."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    scope = merchant.code if merchant else "all"
    response["Content-Disposition"] = f'attachment; filename="settlement-{scope}-{start}-{end}.csv"'
    writer = csv.writer(response)
    period = [start.isoformat(), end.isoformat()]
    values = ["count", "face_value_minor", "face_value"]
    if merchant:
        writer.writerow(["merchant_code", "merchant_name", "from", "to", "item_type", "voucher", *values])
        lines = [[merchant.code, merchant.name, *period, row["item_type"], row["name"], row] for row in rows]
        lines.append([merchant.code, merchant.name, *period, "TOTAL", "", total])
    else:
        writer.writerow(["merchant_code", "merchant_name", "from", "to", *values])
        lines = [[row["code"], row["name"], *period, row] for row in rows]
        lines.append(["TOTAL", "", *period, total])
    for *labels, numbers in lines:
        writer.writerow([*labels, numbers["count"], numbers["face_value"], amount(numbers["face_value"])])
    return response
