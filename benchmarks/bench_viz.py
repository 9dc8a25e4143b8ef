"""Time to build and lay out the drawing of an LSTM's graph, at T = 10, 50 and 100 steps, at each level.

build:  trace the recorded graph, apply the views and write the DOT text (tinygrad_rnn.viz, Python).
layout: Graphviz's dot turning that text into SVG (what a learner waits for in a notebook).
The model is `viz.examples.sequence_loss("lstm", T)`: input 3, hidden 4, batch 1, run forward and
backward with retain_grads=True, drawn with max_nodes=None so every level is drawn as asked. Each
figure is the median over rounds. Run:  python benchmarks/bench_viz.py [--rounds 5] [--smoke]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time

from tinygrad_rnn import viz
from tinygrad_rnn.viz.examples import sequence_loss


def build(loss, level: str) -> tuple[str, int]:
    g = viz.view(loss, level=level, max_nodes=None)
    return viz.to_dot(g).source, len(g.nodes)


def layout(source: str) -> None:
    subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True)


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of each measurement; the median is reported")
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 50, 100], help="sequence lengths T")
    parser.add_argument("--smoke", action="store_true", help="T=3 and one round, to check the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.steps = 1, [3]
    has_dot = shutil.which("dot") is not None

    print(f"LSTM graph drawn at each level, median of {args.rounds} rounds")
    print("| T | level | nodes | build (ms) | layout by dot (s) |")
    print("|---:|---|---:|---:|---:|")
    for steps in args.steps:
        loss = sequence_loss("lstm", steps)
        for level in viz.LEVELS:
            source, nodes = build(loss, level)
            build_ms = statistics.median(timed(build, loss, level) for _ in range(args.rounds)) * 1e3
            lay = statistics.median(timed(layout, source) for _ in range(args.rounds)) if has_dot else float("nan")
            print(f"| {steps} | {level} | {nodes} | {build_ms:.1f} | {lay:.2f} |", flush=True)
    if not has_dot:
        print("\nGraphviz's dot is not installed: no layout times (apt-get install graphviz)")


if __name__ == "__main__":
    main()
