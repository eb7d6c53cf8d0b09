"""The wrk driver: a C load generator, configured through bench/scenario.lua."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Final

from bench.harness.load import REQUEST_TIMEOUT, Measurement, Scenario

WRK_SCRIPT: Final = Path(__file__).resolve().parents[1] / "scenario.lua"


class WrkDriver:
    """wrk with bench/scenario.lua: much lighter on the shared cores than the Python driver."""

    def __init__(self, executable: str, host: str, port: int, threads: int, workdir: Path) -> None:
        self.executable = executable
        self.base = f"http://{host}:{port}"
        self.threads = threads
        self.workdir = workdir
        version = subprocess.run([executable, "-v"], capture_output=True, text=True, check=False, timeout=10)
        first = (version.stdout or version.stderr).strip().splitlines()
        self.name = first[0].split(" [")[0] if first else "wrk"

    def measure(
        self, scenario: Scenario, duration: int, connections: int, assertions: list[str] | None
    ) -> Measurement:
        env = dict(os.environ)
        env.update(
            BENCH_METHOD=scenario.method,
            BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in scenario.headers),
            BENCH_BODY=scenario.body.decode(),
            BENCH_THREADS=str(self.threads),
        )
        if scenario.single_use:
            assertions_file = self.workdir / f"assertions-{secrets.token_hex(4)}.txt"
            assertions_file.write_text("\n".join(assertions or []) + "\n")
            env.update(BENCH_FORM_PREFIX=scenario.form_prefix, BENCH_ASSERTIONS=str(assertions_file))
        command = [
            self.executable,
            *("-t", str(self.threads), "-c", str(connections), "-d", f"{duration}s"),
            *("--timeout", f"{REQUEST_TIMEOUT:g}s", "-s", str(WRK_SCRIPT), self.base + scenario.path),
        ]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        result = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
        seconds = result["duration_us"] / 1e6
        # A thread stops at its last assertion, with up to one request per connection still unanswered.
        exhausted = scenario.single_use and result["requests"] + connections >= len(assertions or [])
        return Measurement(
            scenario=scenario.name,
            method=scenario.method,
            path=scenario.path,
            requests=result["requests"],
            errors=result["socket_errors"] + result["non_2xx"],
            seconds=round(seconds, 2),
            rps=result["requests"] / seconds,
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            budget=scenario.budget,
            note="ran out of pre-signed assertions" if exhausted else "",
        )


def find_wrk(install: bool) -> str | None:
    """Find wrk on PATH; else, as root and when allowed, `apt-get install -y wrk` (once per machine)."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0:
        return found
    for step in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        print(f"bench: {' '.join(step)}", flush=True)
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            return None
        if step[1] == "install" and done.returncode == 0:
            return shutil.which("wrk")
    print("bench: wrk could not be installed; using the Python driver", flush=True)
    return None
