"""The operations dashboard's charts over the last 30 days (server-rendered SVG, see core.charts)."""

from datetime import date

from core.charts import Series, svg_chart
from core.timeseries import local_day
from operations.models import RunStatus

CHART_DAYS = 30
RUN_COLORS = {RunStatus.PASSED: "#3a9d5d", RunStatus.FAILED: "#c0392b", RunStatus.ERROR: "#d9822b"}


def _percent(value: float) -> str:
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"


def dashboard_charts(*, days: list[date], trades: dict, attempts: dict, runs: list[dict]) -> dict:
    """{"trades", "fees", "redemption", "runs"}: SVGs, one bar or point per day of `days`.

    `trades` and `attempts` are per day (market.price_selectors.trade_totals_by_day,
    redemption.selectors.attempt_stats_by_day); `runs` are the period's reconciliation runs, oldest first.
    """
    labels = [day.strftime("%m-%d") for day in days]
    price_assets = sorted({price_asset for _, price_asset in trades})

    def per_day(price_asset: str, key: str) -> list[int | None]:
        return [trades.get((day, price_asset), {}).get(key) or None for day in days]

    trade_counts = [sum(trades.get((day, pa), {}).get("trades", 0) for pa in price_assets) or None for day in days]
    success = [
        round(100 * stats.success_rate, 1) if (stats := attempts.get(day)) and stats.success_rate is not None else None
        for day in days
    ]
    last_run_of_day: dict[date, dict] = {local_day(run["started_at"]): run for run in runs}
    day_runs = [last_run_of_day.get(day) for day in days]
    return {
        "trades": svg_chart(
            title="Market trades per day",
            x_labels=labels,
            series=[Series("trades", trade_counts)],
            chart_id="chart-trades",
        ),
        "fees": svg_chart(
            title="Market fees per day",
            x_labels=labels,
            series=[Series(f"fees in {pa}", per_day(pa, "fees")) for pa in price_assets],
            chart_id="chart-fees",
        ),
        "redemption": svg_chart(
            title="Redemption success per day (ok ÷ verified, throttled not counted)",
            x_labels=labels,
            series=[Series("success", success, "line")],
            y_max=100,
            y_format=_percent,
            empty_text="No verifications",
            chart_id="chart-redemption",
        ),
        "runs": svg_chart(
            title="Reconciliation: discrepancies found by each day's last run (red: failed, orange: error)",
            x_labels=labels,
            series=[
                Series(
                    "discrepancies",
                    [run["discrepancy_count"] if run else None for run in day_runs],
                    colors=[RUN_COLORS.get(run["status"]) if run else None for run in day_runs],
                )
            ],
            empty_text="No reconciliation run",
            chart_id="chart-runs",
        ),
    }
