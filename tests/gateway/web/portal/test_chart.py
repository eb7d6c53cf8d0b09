"""The developer portal's usage chart: server-rendered SVG, proportional bars, escaped names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from gateway.web.portal.chart import MAX_SERIES, OTHER, nice_ceiling, usage_chart

SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Line:
    day: date
    api_version: str
    operation: str
    requests: int
    throttled: int = 0
    errors: int = 0


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own chart, not untrusted input)


def bars(svg: str) -> list[ET.Element]:
    return [e for e in parse(svg).iter(f"{SVG}rect") if e.get("class") == "usage-chart__bar"]


def test_chart_bars_are_proportional_and_every_day_has_a_column() -> None:
    since = date(2026, 11, 1)
    lines = [
        Line(since, "v1", "listFunds", 10),
        Line(since, "v2", "listFunds", 10),  # versions summed
        Line(since + timedelta(days=2), "v1", "listFunds", 5, throttled=4),
        Line(since + timedelta(days=2), "v1", "getQuote", 15),
    ]

    chart = usage_chart(lines, since, since + timedelta(days=6))

    assert [d.day for d in chart.days] == [since + timedelta(days=i) for i in range(7)]
    assert [d.requests for d in chart.days] == [20, 0, 20, 0, 0, 0, 0]
    assert chart.scale_max == 20
    assert [s.name for s in chart.series] == ["listFunds", "getQuote"]  # busiest first
    drawn = {
        (b.get("data-day"), b.get("data-operation")): float(b.get("height", "0")) for b in bars(chart.svg)
    }
    assert drawn[("2026-11-01", "listFunds")] == pytest.approx(212.0)  # the full plot height
    assert drawn[("2026-11-03", "listFunds")] == pytest.approx(53.0)
    assert drawn[("2026-11-03", "getQuote")] == pytest.approx(159.0)
    throttled = [e for e in parse(chart.svg).iter(f"{SVG}rect") if e.get("class") == "usage-chart__throttled"]
    assert [(t.get("data-day"), t.get("data-count")) for t in throttled] == [("2026-11-03", "4")]
    assert chart.requests == 40
    assert chart.throttled == 4


def test_chart_groups_quiet_operations_and_escapes_names() -> None:
    day = date(2026, 11, 5)
    lines = [Line(day, "v1", f"op{i}", 100 - i) for i in range(MAX_SERIES + 2)]
    lines.append(Line(day, "v1", '<script>"x"</script>', 1))

    chart = usage_chart(lines, day, day)

    assert len(chart.series) == MAX_SERIES + 1
    assert chart.series[-1].name == OTHER
    assert chart.days[0].by_series[OTHER] == (100 - MAX_SERIES) + (100 - MAX_SERIES - 1) + 1
    assert "<script>" not in chart.svg
    parse(chart.svg)  # well-formed


def test_chart_of_an_empty_range_and_its_scale() -> None:
    day = date(2026, 11, 5)
    chart = usage_chart([], day - timedelta(days=89), day)

    assert chart.scale_max == 1
    assert bars(chart.svg) == []
    assert len(chart.days) == 90
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 7, 10, 11, 24, 51, 999, 1001)] == [
        1,
        1,
        2,
        5,
        10,
        10,
        20,
        50,
        100,
        1000,
        2000,
    ]
    with pytest.raises(ValueError, match="until"):
        usage_chart([], day, day - timedelta(days=1))
