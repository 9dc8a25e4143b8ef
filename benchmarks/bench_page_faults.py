"""Page faults per LSTM training step, with and without keeping freed memory (the malloc lesson, speed/malloc.py).

Each configuration runs in a fresh process (glibc's malloc state depends on everything the process
did before), for tg.nn.LSTM and for the hand-written numpy LSTM of bench_lstm.py: a few warm-up
steps, then the minor page faults (getrusage) and the time of each of the next steps.
"Kept" calls tg.speed.keep_freed_memory() first; "returned to the OS" leaves glibc's malloc as it is.

Run:  python benchmarks/bench_page_faults.py [--steps 20] [--only h128 h512]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"h128": 128, "h512": 512}  # B=32, T=50, I=64 as in bench_lstm.py

CHILD = r"""
import resource, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import bench_lstm as bench
which, hidden, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if sys.argv[5] == "keep":
    bench.tg.speed.keep_freed_memory()
weights, x = bench.make_problem(32, 50, 64, hidden, False)
step = (bench.tg_lstm if which == "tg" else bench.numpy_by_hand)(weights, x)
for _ in range(3):
    step()
faults, times = [], []
for _ in range(steps):
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(statistics.mean(faults), max(faults), statistics.median(times))
"""


def run(which: str, hidden: int, steps: int, keep: bool) -> tuple[float, int, float]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-c", CHILD, str(HERE), which, str(hidden), str(steps), "keep" if keep else "return"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", nargs="+", choices=list(SIZES))
    args = parser.parse_args()
    print("minor page faults per training step (B=32, T=50, I=64), each row in a fresh process")
    print("| size | implementation | freed memory | faults per step (mean / max) | ms per step (median) |")
    print("|---|---|---|---:|---:|")
    for label in args.only or SIZES:
        for which, name in (("tg", "tg.nn.LSTM"), ("numpy", "numpy by hand")):
            for keep in (False, True):
                mean, most, seconds = run(which, SIZES[label], args.steps, keep)
                how = "kept (keep_freed_memory)" if keep else "returned to the OS"
                print(f"| {label} | {name} | {how} | {mean:.0f} / {most} | {seconds * 1e3:.1f} |")


if __name__ == "__main__":
    main()
