"""The portal's usage chart: requests per day by operation, and 429s, as server-rendered SVG.

Rules (pinned by tests/gateway/web/portal/test_portal.py):
- One column per day from `since` to `until` inclusive, days without traffic included (a gap is
  information). Each column stacks the day's requests by operation (all API versions summed); a
  thin red bar beside it shows the day's 429 (throttled) answers, which the requests include, on
  the same scale.
- At most `MAX_SERIES` operations get their own colour, the busiest first (ties by name); the rest
  are summed as "other operations".
- The scale runs from 0 to a round number (1, 2 or 5 times a power of ten) at or above the busiest
  column, so bar heights are proportional to counts; an empty range draws an axis up to 1.
- Every bar carries a <title> with its day, operation and count, and the chart a <title> and
  <desc>, for screen readers; the page shows the same numbers as a table.
- Colours are SVG presentation attributes, not inline styles, so the pages' CSP (style-src 'self')
  holds. Operation names are escaped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Final, Protocol

from markupsafe import Markup

MAX_SERIES: Final = 6
OTHER: Final = "other operations"
PALETTE: Final = ("#0f7f79", "#1b3f72", "#c77700", "#6b4fbb", "#2f8f46", "#8a5a44", "#7b8794")
THROTTLED_COLOUR: Final = "#b42318"
WIDTH: Final = 720
HEIGHT: Final = 260
LEFT: Final = 48
RIGHT: Final = 12
TOP: Final = 14
BOTTOM: Final = 34


class UsageLine(Protocol):
    """The shape of `partners.usage.UsageCount` that the chart reads."""

    @property
    def day(self) -> date: ...
    @property
    def operation(self) -> str: ...
    @property
    def requests(self) -> int: ...
    @property
    def throttled(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str


@dataclass(frozen=True, slots=True)
class DayTotals:
    day: date
    by_series: dict[str, int]
    requests: int
    throttled: int


@dataclass(frozen=True, slots=True)
class UsageChart:
    svg: Markup
    series: tuple[Series, ...]
    days: tuple[DayTotals, ...]
    scale_max: int

    @property
    def requests(self) -> int:
        return sum(day.requests for day in self.days)

    @property
    def throttled(self) -> int:
        return sum(day.throttled for day in self.days)


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def days_between(since: date, until: date) -> list[date]:
    return [since + timedelta(days=offset) for offset in range((until - since).days + 1)]


def usage_chart(lines: Iterable[UsageLine], since: date, until: date) -> UsageChart:
    """The chart of the module docstring for the usage lines between `since` and `until`."""
    if until < since:
        raise ValueError("until must not be before since")
    days = days_between(since, until)
    per_operation: dict[str, int] = defaultdict(int)
    cells: dict[tuple[date, str], int] = defaultdict(int)
    throttled: dict[date, int] = defaultdict(int)
    for line in lines:
        if not since <= line.day <= until:
            continue
        per_operation[line.operation] += line.requests
        cells[line.day, line.operation] += line.requests
        throttled[line.day] += line.throttled
    ranked = sorted(per_operation, key=lambda name: (-per_operation[name], name))
    named = ranked[:MAX_SERIES]
    series = [Series(name, PALETTE[index]) for index, name in enumerate(named)]
    if len(ranked) > len(named):
        series.append(Series(OTHER, PALETTE[-1]))
    totals: list[DayTotals] = []
    for day in days:
        by_series: dict[str, int] = {}
        for operation in ranked:
            count = cells.get((day, operation), 0)
            key = operation if operation in named else OTHER
            by_series[key] = by_series.get(key, 0) + count
        totals.append(DayTotals(day, by_series, sum(by_series.values()), throttled.get(day, 0)))
    scale_max = nice_ceiling(max([0, *(max(t.requests, t.throttled) for t in totals)]))
    return UsageChart(_svg(totals, series, scale_max), tuple(series), tuple(totals), scale_max)


def _svg(totals: Sequence[DayTotals], series: Sequence[Series], scale_max: int) -> Markup:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    base = TOP + plot_height
    slot = plot_width / len(totals)
    bar = max(2.0, slot * 0.6)
    spike = max(1.0, slot * 0.12)
    label_every = max(1, math.ceil(len(totals) / 14))

    def height(count: int) -> float:
        return round(plot_height * count / scale_max, 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="usage-chart-title usage-chart-desc" '
        f'data-testid="usage-chart" data-scale-max="{scale_max}">',
        '<title id="usage-chart-title">Requests per day by operation</title>',
        f'<desc id="usage-chart-desc">{_describe(totals)}</desc>',
    ]
    for step in range(5):  # gridlines at 0, 1/4 .. 4/4 of the scale
        value = scale_max * step / 4
        y = round(base - plot_height * step / 4, 2)
        label = f"{value:g}"
        parts.append(
            f'<line class="usage-chart__grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" '
            f'stroke="#d5dce6" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" font-size="11" fill="#4a5567">{label}</text>'
        )
    for index, day in enumerate(totals):
        x = LEFT + slot * index + (slot - bar - spike) / 2
        top = float(base)
        for item in series:
            count = day.by_series.get(item.name, 0)
            if not count:
                continue
            h = height(count)
            top -= h
            parts.append(
                f'<rect class="usage-chart__bar" x="{x:.2f}" y="{top:.2f}" width="{bar:.2f}" height="{h}" '
                f'fill="{item.colour}" data-day="{day.day.isoformat()}" data-operation="{escape(item.name)}" '
                f'data-count="{count}"><title>{day.day.isoformat()} {escape(item.name)}: '
                f"{count} requests</title></rect>"
            )
        if day.throttled:
            h = height(day.throttled)
            parts.append(
                f'<rect class="usage-chart__throttled" x="{x + bar:.2f}" y="{base - h:.2f}" '
                f'width="{spike:.2f}" height="{h}" fill="{THROTTLED_COLOUR}" '
                f'data-day="{day.day.isoformat()}" '
                f'data-count="{day.throttled}"><title>{day.day.isoformat()}: {day.throttled} throttled '
                f"(429)</title></rect>"
            )
        if index % label_every == 0:
            centre = LEFT + slot * index + slot / 2
            parts.append(
                f'<text x="{centre:.2f}" y="{base + 16}" text-anchor="middle" font-size="11" '
                f'fill="#4a5567">{day.day:%m-%d}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#9aa6b8" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated name is escaped above)


def _describe(totals: Sequence[DayTotals]) -> str:
    requests = sum(day.requests for day in totals)
    throttled = sum(day.throttled for day in totals)
    first, last = totals[0].day.isoformat(), totals[-1].day.isoformat()
    return escape(f"{requests} requests and {throttled} throttled (429) from {first} to {last}.")
