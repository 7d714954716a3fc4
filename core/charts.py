"""Charts for the admin as server-rendered SVG: no JavaScript, no CDN, readable offline.

One chart is a row of x categories (days, hours or runs, oldest first) and one or more
series on a shared y axis: bars, lines or ranges (a low-high whisker per category). None is
"nothing here" (no bar, a gap in the line); a bar of 0 is drawn as a sliver ("ran, found none"). The SVG scales to its container (viewBox, width 100%), labels at most a handful
of x categories, puts 5 round ticks on the y axis, and says "No data" when there is none, so
it stays readable from 0 to several hundred points. Every mark carries a <title> tooltip.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 720, 56, 22, 28, 34
MAX_X_LABELS = 8
Y_TICKS = 5
PALETTE = ("#2f7ebc", "#d9822b", "#3a9d5d", "#9b59b6", "#c0392b", "#7f8c8d")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int | float | None]
    kind: str = "bar"  # "bar", "line", or "range" (values are (low, high) pairs or None)
    color: str | None = None
    # Per-category colours for bars (e.g. a failed run in red); None keeps the series colour.
    colors: Sequence[str | None] | None = None
    # A line drawn across the categories without a value (a price stays what it last was).
    bridge_gaps: bool = False


@dataclass(frozen=True)
class _Frame:
    height: int
    count: int
    y_max: float
    plot_width: float = field(init=False)
    plot_height: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "plot_width", WIDTH - LEFT - RIGHT)
        object.__setattr__(self, "plot_height", self.height - TOP - BOTTOM)

    def x(self, index: int) -> float:
        """The centre of category `index`."""
        return LEFT + (index + 0.5) * self.plot_width / max(self.count, 1)

    def y(self, value: float) -> float:
        return TOP + self.plot_height * (1 - value / self.y_max)

    @property
    def slot(self) -> float:
        return self.plot_width / max(self.count, 1)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value` (a round top for the y axis)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def svg_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    height: int = 220,
    y_max: float | None = None,
    y_format: Callable[[float], str] = _number,
    empty_text: str = "No data",
    chart_id: str = "",
) -> SafeString:
    """An SVG chart (see the module docstring). `y_max` fixes the axis (100 for a percentage)."""
    count = len(x_labels)
    present = [value for one in series for value in one.values if value is not None]
    highest = max((max(value) if isinstance(value, tuple) else value for value in present), default=0)
    # At least Y_TICKS, so that small counts get whole-number ticks.
    frame = _Frame(height=height, count=count, y_max=y_max or nice_ceiling(max(highest, Y_TICKS)))
    id_attribute = f' id="{escape(chart_id)}"' if chart_id else ""
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}"{id_attribute} '
        f'style="max-width:{WIDTH}px;font:11px sans-serif;color:inherit">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" fill="currentColor" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    parts += _y_axis(frame, y_format)
    parts += _x_axis(frame, x_labels)
    if not present:
        parts.append(
            f'<text x="{LEFT + frame.plot_width / 2}" y="{TOP + frame.plot_height / 2}" text-anchor="middle" '
            f'fill="currentColor" opacity="0.6" font-size="14" class="chart-empty">{escape(empty_text)}</text>'
        )
    else:
        bars = [one for one in series if one.kind == "bar"]
        for number, one in enumerate(series):
            color = one.color or PALETTE[number % len(PALETTE)]
            if one.kind == "bar":
                parts += _bars(frame, one, color, bars.index(one), len(bars), x_labels, y_format)
            elif one.kind == "range":
                parts += _ranges(frame, one, color, x_labels, y_format)
            else:
                parts += _line(frame, one, color, x_labels, y_format)
        if len(series) > 1:
            parts += _legend(series)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text inside was escaped above


def _y_axis(frame: _Frame, y_format) -> list[str]:
    parts = []
    for tick in range(Y_TICKS + 1):
        value = frame.y_max * tick / Y_TICKS
        y = frame.y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" '
            f'stroke-opacity="{0.35 if tick == 0 else 0.12}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor" opacity="0.75">'
            f"{escape(y_format(value))}</text>"
        )
    return parts


def _x_axis(frame: _Frame, labels: Sequence[str]) -> list[str]:
    if not labels:
        return []
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    shown = list(range(0, len(labels), step))
    if shown[-1] != len(labels) - 1 and len(labels) - 1 - shown[-1] >= step / 2:
        shown.append(len(labels) - 1)
    y = TOP + frame.plot_height + 16
    parts = []
    for i in shown:
        # The outermost labels line up with the plot's edges, so long ones are not cut off.
        x, anchor = frame.x(i), "middle"
        if i == 0 and len(shown) > 1:
            x, anchor = LEFT, "start"
        elif i == len(labels) - 1 and len(shown) > 1:
            x, anchor = WIDTH - RIGHT, "end"
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" fill="currentColor" opacity="0.75">'
            f"{escape(labels[i])}</text>"
        )
    return parts


def _bars(frame: _Frame, one: Series, color: str, position: int, of: int, labels, y_format) -> list[str]:
    group = frame.slot * 0.8
    width = max(group / of, 0.6)
    parts = []
    for index, value in enumerate(one.values):
        if value is None:
            continue
        top = frame.y(value)
        bar_height = max(frame.y(0) - top, 1.5)  # a zero still shows a sliver: "ran, nothing found"
        x = frame.x(index) - group / 2 + position * width
        fill = (one.colors[index] if one.colors else None) or color
        parts.append(
            f'<rect x="{x:.2f}" y="{frame.y(0) - bar_height:.2f}" width="{width:.2f}" height="{bar_height:.2f}" '
            f'fill="{fill}"><title>{escape(labels[index])}: {escape(one.label)} {escape(y_format(value))}'
            "</title></rect>"
        )
    return parts


def _line(frame: _Frame, one: Series, color: str, labels, y_format) -> list[str]:
    parts, run = [], []
    dots = frame.count <= 60
    for index, value in enumerate([*one.values, None]):
        if value is None and one.bridge_gaps and index < len(one.values):
            continue
        if value is None:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in run)
                parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
            if len(run) == 1 or dots:
                parts += [
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">{tip}</circle>' for x, y, tip in run
                ]
            run = []
            continue
        tip = f"<title>{escape(labels[index])}: {escape(one.label)} {escape(y_format(value))}</title>"
        run.append((frame.x(index), frame.y(value), tip))
    if not dots:  # one invisible target per point keeps the tooltips on long lines
        parts += [
            f'<rect x="{frame.x(i) - frame.slot / 2:.2f}" y="{TOP}" width="{frame.slot:.2f}" '
            f'height="{frame.plot_height}" fill="transparent"><title>{escape(labels[i])}: {escape(one.label)} '
            f"{escape(y_format(v))}</title></rect>"
            for i, v in enumerate(one.values)
            if v is not None
        ]
    return parts


def _ranges(frame: _Frame, one: Series, color: str, labels, y_format) -> list[str]:
    parts = []
    for index, pair in enumerate(one.values):
        if pair is None:
            continue
        low, high = pair
        x = frame.x(index)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y(high):.1f}" y2="{frame.y(low):.1f}" stroke="{color}" '
            f'stroke-width="{max(min(frame.slot * 0.4, 4), 1):.1f}" stroke-opacity="0.45">'
            f"<title>{escape(labels[index])}: {escape(one.label)} {escape(y_format(low))}–{escape(y_format(high))}"
            "</title></line>"
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], WIDTH - RIGHT
    for number, one in reversed(list(enumerate(series))):
        color = one.color or PALETTE[number % len(PALETTE)]
        x -= 14 + 7 * len(one.label)
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="17" fill="currentColor">{escape(one.label)}</text>'
        )
    return parts
