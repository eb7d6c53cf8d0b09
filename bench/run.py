"""`python -m bench.run`: the gateway with two workers, each scenario measured against `/livez`.

Starts `gateway serve --workers 2` (Redis-backed limits and replay cache, SQLite in a fresh var
dir), registers a bench partner with a sandbox app (bearer tokens) on the `enterprise` plan, then
drives four scenarios for a fixed duration each with wrk (installed with apt when missing and
allowed) or a bounded asyncio driver.
Results go to `bench/results/<UTC timestamp>.json`, `bench/results/latest.md` and the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import redis

from bench.harness.load import Measurement, PythonDriver, Scenario
from bench.harness.results import RESULTS_DIR, judged, line, report, table, write
from bench.harness.server import GatewayError
from bench.harness.wrk import WrkDriver, find_wrk
from bench.scenarios import bare, compliance, reads, tokens
from bench.stage import BenchApp, stage

WORKERS: Final = 2
# Pre-signed assertions per second of measurement: above any rate two workers reach here.
ASSERTIONS_PER_SECOND: Final = 3000
# The bare endpoint first: every other scenario's ratio is to its rate.
FAMILIES: Final = (bare.scenario, reads.scenario, compliance.scenario, tokens.scenario)


def scenarios(app: BenchApp) -> list[Scenario]:
    return [family(app) for family in FAMILIES]


def run_scenarios(
    driver: PythonDriver | WrkDriver, app: BenchApp, *, duration: int, warmup: int, connections: int
) -> list[Measurement]:
    """Each scenario after its warm-up, judged against the first one's rate."""
    results: list[Measurement] = []
    for scenario in scenarios(app):
        warm, measured = None, None
        if scenario.single_use:
            warm = app.assertions(int(warmup * ASSERTIONS_PER_SECOND) + connections)
            measured = app.assertions(int(duration * ASSERTIONS_PER_SECOND))
        if warmup:
            driver.measure(scenario, warmup, connections, warm)
        result = driver.measure(scenario, duration, connections, measured)
        result = judged(scenario, result, results[0].rps if results else result.rps)
        results.append(result)
        print(line(result), flush=True)
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each scenario")
    parser.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1: leave the cores to the server)"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where results are written")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 < args.connections <= 1024 or not 0 <= args.warmup <= 60:
        parser.error("duration must be in (0, 600] s, connections in (0, 1024], warmup in [0, 60] s")
    return args


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"the bench needs Redis (two workers share limits and replay cache): {url}: {exc}"
        ) from exc
    finally:
        client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _ping_redis(args.redis_url)
    wrk = None if args.driver == "python" else find_wrk(install=not args.no_install)
    if args.driver == "wrk" and wrk is None:
        raise SystemExit("--driver wrk: wrk is not on PATH and could not be installed")
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        var_dir = Path(tmp)
        print(f"bench: starting the gateway ({WORKERS} workers) in {var_dir}", flush=True)
        try:
            with stage(var_dir, redis_url=args.redis_url, workers=WORKERS) as bench:
                driver: PythonDriver | WrkDriver = (
                    WrkDriver(wrk, bench.server.host, bench.server.port, args.threads, var_dir)
                    if wrk
                    else PythonDriver(bench.server.host, bench.server.port)
                )
                print(
                    f"bench: driver {driver.name}; {args.connections} connections, {args.duration:g} s each",
                    flush=True,
                )
                results = run_scenarios(
                    driver,
                    bench.app,
                    duration=args.duration,
                    warmup=args.warmup,
                    connections=args.connections,
                )
        except GatewayError as exc:
            raise SystemExit(str(exc)) from exc
    summary = report(
        started_at=started_at,
        workers=WORKERS,
        driver=driver.name,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        load_average_before=load_before,
        results=results,
    )
    path = write(summary, results, args.results)
    print("\n" + table(results))
    print(f"\nbench: wrote {path} and {args.results / 'latest.md'}")
    return 1 if any(m.errors for m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
