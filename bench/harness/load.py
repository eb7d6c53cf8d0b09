"""Scenarios, and the bounded asyncio load driver that measures them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Final

REQUEST_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    method: str
    path: str
    what: str
    budget: str = ""
    min_ratio: float | None = None  # the budget as a share of the bare endpoint's req/s
    min_rps: float | None = None  # or as an absolute rate
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    form_prefix: str = ""  # token issuance: each request appends a never-used assertion

    @property
    def single_use(self) -> bool:
        return bool(self.form_prefix)


@dataclass(frozen=True, slots=True)
class Measurement:
    scenario: str
    method: str
    path: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    ratio_to_bare: float = 1.0
    budget: str = ""
    note: str = ""
    measures: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    """What one bounded run saw: each answer's latency and status, and the connections that broke."""

    latencies: list[float]  # sorted, in seconds
    statuses: Counter[int]
    broken: int
    seconds: float
    exhausted: bool  # a single-use scenario ran out of assertions

    @property
    def errors(self) -> int:
        refused = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return refused + self.broken

    def measurement(self, scenario: Scenario) -> Measurement:
        requests = len(self.latencies)
        return Measurement(
            scenario=scenario.name,
            method=scenario.method,
            path=scenario.path,
            requests=requests,
            errors=self.errors,
            seconds=round(self.seconds, 2),
            rps=requests / self.seconds,
            p50_ms=percentile(self.latencies, 0.50) * 1000,
            p99_ms=percentile(self.latencies, 0.99) * 1000,
            budget=scenario.budget,
            note="ran out of pre-signed assertions" if self.exhausted else "",
        )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


class PythonDriver:
    """Keep-alive HTTP/1.1 over raw asyncio streams; it shares the two cores with the server."""

    name = "python (asyncio streams, keep-alive)"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def measure(
        self, scenario: Scenario, duration: float, connections: int, assertions: list[str] | None
    ) -> Measurement:
        return self.run(scenario, duration, connections, assertions).measurement(scenario)

    def run(
        self, scenario: Scenario, duration: float, connections: int, assertions: list[str] | None
    ) -> Sample:
        """Closed loop on each connection until `duration` ends (or the assertions do)."""
        return asyncio.run(self._run(scenario, duration, connections, iter(assertions or [])))

    def _request(self, scenario: Scenario, body: bytes) -> bytes:
        lines = [f"{scenario.method} {scenario.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in scenario.headers]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _run(
        self, scenario: Scenario, duration: float, connections: int, assertions: Iterator[str]
    ) -> Sample:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        exhausted = False
        fixed = self._request(scenario, scenario.body)
        started = time.perf_counter()
        deadline = started + duration

        async def one_connection() -> None:
            nonlocal exhausted
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                while time.perf_counter() < deadline:
                    request = fixed
                    if scenario.single_use:
                        assertion = next(assertions, None)
                        if assertion is None:
                            exhausted = True
                            return
                        request = self._request(scenario, (scenario.form_prefix + assertion).encode())
                    sent = time.perf_counter()
                    writer.write(request)
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        status, close = await _read_response(reader)
                    latencies.append(time.perf_counter() - sent)
                    statuses[status] += 1
                    if close:
                        writer.close()
                        await writer.wait_closed()
                        reader, writer = await asyncio.open_connection(self.host, self.port)
            finally:
                writer.close()
                with suppress(OSError):
                    await writer.wait_closed()

        outcomes = await asyncio.gather(
            *(one_connection() for _ in range(connections)), return_exceptions=True
        )
        return Sample(
            latencies=sorted(latencies),
            statuses=statuses,
            broken=sum(1 for outcome in outcomes if isinstance(outcome, BaseException)),
            seconds=time.perf_counter() - started,
            exhausted=exhausted,
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise RuntimeError(f"response without Content-Length: {lines[0]}")
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection", "").lower() == "close"
