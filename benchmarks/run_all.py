"""Run every benchmark of this folder in its quick mode, one after another, and print a summary (`make bench`).

Each `bench_*.py` runs in its own process with the arguments of `QUICK` (a small listing, few
repeats: minutes in all, not the release-scale figures of README.md), or `--quick` when its
`--help` offers it, else with its defaults. Benchmarks that measure real footage (`--real`) are
skipped with a note when that folder is not there. `--full` runs every script with its own
defaults (the figures of README.md); `--list` prints the commands without running them;
`--only NAME` runs the benchmarks whose file name contains NAME. The exit status is 1 when any
benchmark failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Default folder of real clips the curation, sync and face-model benchmarks read.
REAL = HERE.parents[0].parent / "shared" / "real" / "dhfv-calibration"
#: Quick-mode arguments of each benchmark (small sizes; the defaults are the release-scale runs).
QUICK: dict[str, list[str]] = {
    "bench_import.py": ["--repeat", "2"],
    "bench_sampler.py": ["--rows", "20000"],
    "bench_build_scale.py": ["--rows", "5000"],
    "bench_loader.py": ["--visits", "2", "--workers", "2"],
    "bench_curation.py": ["--clips", "4", "--per-defect", "1", "--speed-clips", "0"],
    "bench_face_models.py": ["--clips", "4", "--frames", "20"],
    "bench_sync.py": ["--others", "2"],
}
#: Benchmarks that read real footage: skipped when `REAL` (or their `--real`) is absent.
NEEDS_REAL = ("bench_curation.py", "bench_face_models.py", "bench_sync.py")


@dataclass(frozen=True)
class Run:
    """One benchmark process: the script, its arguments, and why it is skipped (None: it runs)."""

    script: Path
    args: tuple[str, ...]
    skip: str | None = None

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), *self.args]


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its exit status (None when skipped) and seconds."""

    run: Run
    returncode: int | None
    seconds: float


def _offers_quick(script: Path) -> bool:
    try:
        out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return "--quick" in out.stdout


def plan(full: bool, only: str | None) -> list[Run]:
    """The runs `make bench` makes, in file-name order."""
    runs = []
    for script in sorted(HERE.glob("bench_*.py")):
        if only and only not in script.name:
            continue
        if full:
            args: list[str] = []
        elif script.name in QUICK:
            args = QUICK[script.name]
        else:
            args = ["--quick"] if _offers_quick(script) else []
        skip = None
        if script.name in NEEDS_REAL and not REAL.is_dir():
            skip = f"real footage folder {REAL} not found"
        runs.append(Run(script, tuple(args), skip))
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="each script's defaults (release-scale figures)")
    ap.add_argument("--list", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--only", default=None, help="only scripts whose name contains this")
    args = ap.parse_args()
    runs = plan(args.full, args.only)
    if args.list:
        for r in runs:
            line = " ".join(["python", f"benchmarks/{r.script.name}", *r.args])
            print(line + (f"    # skipped: {r.skip}" if r.skip else ""))
        return 0
    outcomes = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for r in runs:
        print(f"\n=== {r.script.name} {' '.join(r.args)}", flush=True)
        if r.skip:
            print(f"skipped: {r.skip}")
            outcomes.append(Outcome(r, None, 0.0))
            continue
        t0 = time.perf_counter()
        code = subprocess.run(r.command(), cwd=HERE.parent, env=env).returncode
        outcomes.append(Outcome(r, code, time.perf_counter() - t0))
    print("\nbenchmark                 status     seconds")
    for o in outcomes:
        status = "skipped" if o.returncode is None else "ok" if o.returncode == 0 else f"failed ({o.returncode})"
        print(f"{o.run.script.name:25s} {status:10s} {o.seconds:7.1f}")
    return 1 if any(o.returncode not in (None, 0) for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
