"""What each speed lesson buys: every workload timed with all the lessons, with all but one, and plain.

A lesson's gain is the time without it over the time with all of them (>1 means it helps; the
median of the per-round ratios, each round timing every configuration back to back). Workloads:
the tiny graph of bench_overhead.py, (a * b + c).sum().backward() on 4x4 float32; and one
tg.nn.LSTM training step (loss = sum of outputs) at bench_lstm.py's sizes: tiny (B=2, T=50, I=4,
H=4), min-char (B=1, T=25, one-hot input of 65, H=100), H=128 and H=512 (B=32, T=50, I=64). The
process keeps freed memory between steps (the malloc lesson, measured by bench_page_faults.py).

Run:  python benchmarks/bench_lessons.py [--rounds 7] [--only tiny-graph tiny min-char h128 h512] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

if __name__ == "__main__":  # before numpy loads, or it has already started its BLAS threads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn import speed  # noqa: E402


def tiny_graph():
    rng = np.random.default_rng(0)
    a, b, c = (tg.Tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True) for _ in range(3))

    def step():
        a.grad = b.grad = c.grad = None
        (a * b + c).sum().backward()

    return step


def lstm_step(B: int, T: int, I: int, H: int, one_hot: bool = False):
    rng = np.random.default_rng(0)
    lstm = tg.nn.LSTM(I, H, rng=rng)
    x = np.eye(I, dtype=np.float32)[rng.integers(0, I, (T, B))] if one_hot else rng.standard_normal((T, B, I))
    x = tg.Tensor(x.astype(np.float32))

    def step():
        lstm.zero_grad()
        output, _ = lstm(x)
        output.sum().backward()

    return step


WORKLOADS = {  # name -> (make the step, steps per round, smoke steps)
    "tiny-graph": (tiny_graph, 2000, 5),
    "tiny": (lambda: lstm_step(2, 50, 4, 4), 20, 1),
    "min-char": (lambda: lstm_step(1, 25, 65, 100, one_hot=True), 30, 1),
    "h128": (lambda: lstm_step(32, 50, 64, 128), 6, 1),
    "h512": (lambda: lstm_step(32, 50, 64, 512), 1, 1),
}


def configurations() -> dict[str, tuple[str, ...] | None]:
    """'all' lessons, each 'without X', and 'plain' (None: the core alone)."""
    configs: dict[str, tuple[str, ...] | None] = {"all": speed.LESSONS}
    configs |= {f"without {x}": tuple(y for y in speed.LESSONS if y != x) for x in speed.LESSONS}
    return configs | {"plain": None}


def measure(step, number: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in configurations()}
    for _ in range(rounds):
        for name, lessons in configurations().items():
            with tg.plain() if lessons is None else speed.lessons(*lessons):
                step()  # warm: the first call after a switch may build classes' caches
                t0 = time.perf_counter()
                for _ in range(number):
                    step()
                times[name].append((time.perf_counter() - t0) / number)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--smoke", action="store_true", help="one round of a few steps: checks the script runs")
    args = parser.parse_args()
    speed.keep_freed_memory()
    names = args.only or list(WORKLOADS)
    results = {}
    for name in names:
        make, number, smoke_number = WORKLOADS[name]
        times = measure(make(), smoke_number if args.smoke else number, 1 if args.smoke else args.rounds)
        base = times["all"]
        results[name] = {k: statistics.median(a / b for a, b in zip(v, base, strict=True)) for k, v in times.items()}
        results[name]["ms"] = statistics.median(times["all"]) * 1e3
    rounds = 1 if args.smoke else args.rounds
    print(f"time without each lesson over the time with all of them (>1: the lesson helps); {rounds} round(s)")
    print("| configuration | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| all lessons, ms per step | " + " | ".join(f"{results[n]['ms']:.3f}" for n in names) + " |")
    for config in configurations():
        if config != "all":
            print(f"| {config} | " + " | ".join(f"{results[n][config]:.2f}x" for n in names) + " |")


if __name__ == "__main__":
    main()
