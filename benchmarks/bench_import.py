"""Start-up cost: `import facevid_datasets`, `facevid --help`, `facevid list`, against a bare `import torch`.

    .venv/bin/python benchmarks/bench_import.py [--repeat 5]

Each figure is the median wall time of a fresh interpreter (Python's own start included) and the
peak RSS of that process, so it is what a user waits for at the prompt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "python (nothing)": [sys.executable, "-c", "pass"],
    "import torch (baseline)": [sys.executable, "-c", "import torch"],
    "import facevid_datasets": [sys.executable, "-c", "import facevid_datasets"],
    "facevid --help": [sys.executable, "-m", "facevid_datasets.cli", "--help"],
    "facevid list": [sys.executable, "-m", "facevid_datasets.cli", "list"],
    "import facevid_datasets; fd.ClipDataset": [sys.executable, "-c",
                                                "import facevid_datasets as fd; fd.ClipDataset; fd.VideoCollator"],
}
TARGETS = {"import facevid_datasets": 1.5, "facevid --help": 1.0, "facevid list": 1.0}


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median seconds and max peak RSS (MiB) of `repeat` fresh runs of `cmd`."""
    times, rss = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1])
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not the max over all children
        times.append(time.perf_counter() - t)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{' '.join(cmd)} failed")
        rss = max(rss, usage.ru_maxrss)
    return statistics.median(times), rss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    if shutil.which("facevid"):
        print(f"(the `facevid` script runs the same entry point as `{sys.executable} -m facevid_datasets.cli`)")
    base = None
    for name, cmd in CASES.items():
        sec, rss = measure(cmd, args.repeat)
        base = sec if name.startswith("import torch") else base
        ratio = f"  {sec / base:5.2f}x import torch" if base else ""
        target = ""
        if name in TARGETS:
            target = f"  target <= {TARGETS[name]} s: {'ok' if sec <= TARGETS[name] else 'MISSED'}"
        print(f"{name:42s} {sec:6.3f} s  peak RSS {rss:6.0f} MiB{ratio}{target}", flush=True)


if __name__ == "__main__":
    main()
