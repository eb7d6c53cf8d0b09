"""The results of a run: judged against the baseline, printed, and written as JSON and Markdown."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from bench.harness.load import Measurement, Scenario

BENCH_DIR: Final = Path(__file__).resolve().parents[1]
RESULTS_DIR: Final = BENCH_DIR / "results"
README: Final = BENCH_DIR / "README.md"
README_START: Final = "<!-- latest results: written by bench/run.py -->"
README_END: Final = "<!-- end of latest results -->"


def judged(scenario: Scenario, measured: Measurement, bare_rps: float) -> Measurement:
    """The measurement rounded, as a ratio to the bare endpoint, with its budget's verdict."""
    ratio = measured.rps / bare_rps
    return replace(
        measured,
        rps=round(measured.rps, 1),
        p50_ms=round(measured.p50_ms, 2),
        p99_ms=round(measured.p99_ms, 2),
        ratio_to_bare=round(ratio, 3),
        budget=_verdict(scenario, measured.rps, ratio),
        measures=scenario.what,
    )


def _verdict(scenario: Scenario, rps: float, ratio: float) -> str:
    if scenario.min_ratio is not None:
        return f"{scenario.budget}: {'met' if ratio >= scenario.min_ratio else 'missed'}"
    if scenario.min_rps is not None:
        return f"{scenario.budget}: {'met' if rps >= scenario.min_rps else 'missed'}"
    return scenario.budget


def line(m: Measurement) -> str:
    note = f"  ({m.note})" if m.note else ""
    return (
        f"  {m.scenario:<20} {m.rps:>9,.0f} req/s  p50 {m.p50_ms:6.1f} ms  p99 {m.p99_ms:6.1f} ms  "
        f"{m.ratio_to_bare:5.0%} of bare  errors {m.errors}{note}"
    )


def table(results: Sequence[Measurement]) -> str:
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | x bare | errors | budget |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for m in results:
        budget = m.budget + (f" ({m.note})" if m.note else "")
        rows.append(
            f"| {m.scenario} | {m.rps:,.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.ratio_to_bare:.0%} "
            f"| {m.errors} | {budget} |"
        )
    return "\n".join(rows)


def machine(workers: int) -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for cpu_line in Path("/proc/cpuinfo").read_text().splitlines():
            if cpu_line.startswith("model name"):
                model = cpu_line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "server": f"uvicorn, {workers} workers ({_http_stack()}), SQLite (WAL), Redis limits",
    }


def _http_stack() -> str:
    """What uvicorn's `auto` settings pick: httptools and uvloop when they are installed."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio loop"
    return f"{parser}, {loop}"


def report(
    *,
    started_at: datetime,
    workers: int,
    driver: str,
    connections: int,
    duration: float,
    warmup: float,
    load_average_before: float,
    results: Sequence[Measurement],
) -> dict[str, Any]:
    """The results file's content; it is named after the start time."""
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "file": started_at.strftime("%Y%m%dT%H%M%SZ") + ".json",
        "machine": machine(workers),
        "driver": driver,
        "connections": connections,
        "duration_s": duration,
        "warmup_s": warmup,
        "load_average_before": load_average_before,
        "load_average_after": os.getloadavg()[0],
        "scenarios": [asdict(m) for m in results],
    }


def write(report: dict[str, Any], results: Sequence[Measurement], directory: Path) -> Path:
    """The JSON file and `latest.md` in `directory`, and the README's section for the default one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / str(report["file"])
    path.write_text(json.dumps(report, indent=2) + "\n")
    section = markdown(report, results)
    (directory / "latest.md").write_text("# Latest bench results\n\n" + section)
    if directory.resolve() == RESULTS_DIR:
        update_readme(section)
    return path


def markdown(report: dict[str, Any], results: Sequence[Measurement]) -> str:
    host = report["machine"]
    load_before, load_after = report["load_average_before"], report["load_average_after"]
    return "\n".join(
        [
            f"Run {report['started_at']} (`python -m bench.run --duration {report['duration_s']:g} "
            f"--connections {report['connections']}`), results in `bench/results/{report['file']}`.",
            "",
            f"- machine: {host['cpu']}, {host['cores']} cores, {host['os']}, Python {host['python']}",
            f"- server: {host['server']}",
            f"- driver: {report['driver']}, {report['connections']} connections, "
            f"{report['duration_s']:g} s per scenario after {report['warmup_s']:g} s warm-up",
            f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} "
            "(other work on the machine shows up here)",
            "",
            table(results),
            "",
        ]
    )


def update_readme(section: str) -> None:
    if not README.exists():
        return
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return
    README.write_text(text[: start + len(README_START)] + "\n" + section + text[end:])
