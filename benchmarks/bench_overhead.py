"""Per-op overhead of the engine, side by side with hand-written numpy and PyTorch eager.

Two measurements:
1. a tiny graph, (a * b + c).sum().backward() on 4x4 float32 tensors: the cost of the engine
   itself, since numpy's arithmetic on 16 numbers is almost free. Small recurrent models are
   made of thousands of such small ops, so this is what decides their speed.
2. a chain of 100,000 ops (50,000 steps of x = tanh(x * w), one shared weight) forward and
   backward: the engine must not recurse, and must stay linear in the number of ops.

tinygrad_rnn runs with the speed lessons (tinygrad_rnn/speed, the default) and with the plain core
(`tg.plain()`). Goals: the tiny graph at least 3.5x faster than PyTorch eager with the lessons, and
at least 2.5x with the plain core; the chain under 2 s.

Every implementation is timed in the same run, interleaved, several rounds; the table reports
the median over rounds. Run:  python benchmarks/bench_overhead.py [--rounds 7] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_rnn as tg

try:
    import torch
except ImportError:  # PyTorch is an optional reference
    torch = None


def tiny_graph_impls(rng: np.random.Generator) -> dict:
    a, b, c = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(3))

    def numpy_by_hand():
        y = a * b + c
        _loss = y.sum()
        gy = np.ones_like(y)  # d loss / d y
        return gy * b, gy * a, gy.copy()  # d/da, d/db, d/dc

    ta, tb, tc = (tg.Tensor(v, requires_grad=True) for v in (a, b, c))

    def tinygrad_rnn():
        ta.grad = tb.grad = tc.grad = None
        (ta * tb + tc).sum().backward()

    def tinygrad_rnn_plain():
        with tg.plain():
            tinygrad_rnn()

    impls = {"numpy by hand": numpy_by_hand, "tinygrad_rnn": tinygrad_rnn, "tinygrad_rnn (plain)": tinygrad_rnn_plain}
    if torch is not None:
        pa, pb, pc = (torch.tensor(v, requires_grad=True) for v in (a, b, c))

        def torch_eager():
            pa.grad = pb.grad = pc.grad = None
            (pa * pb + pc).sum().backward()

        impls["PyTorch eager"] = torch_eager
    return impls


def time_per_call(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def chain(steps: int) -> tuple[float, float]:
    """Forward and backward time of `steps` x (mul, tanh), i.e. 2 * steps ops."""
    x = tg.Tensor(np.full((4, 4), 0.5, dtype=np.float32), requires_grad=True)
    w = tg.Tensor(np.full((4, 4), 0.9, dtype=np.float32), requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(steps):
        y = (y * w).tanh()
    loss = y.sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    assert np.isfinite(x.grad).all() and np.isfinite(w.grad).all()
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; the median is reported")
    parser.add_argument("--number", type=int, default=5000, help="calls per round for the tiny graph")
    parser.add_argument("--chain-steps", type=int, default=50_000, help="steps of the chain (2 ops each)")
    parser.add_argument("--smoke", action="store_true", help="a few calls only, to check the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.number, args.chain_steps = 2, 50, 500
    if torch is not None:
        torch.set_num_threads(1)

    impls = tiny_graph_impls(np.random.default_rng(0))
    for fn in impls.values():  # warm up
        time_per_call(fn, max(args.number // 10, 1))
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(args.rounds):
        for name, fn in impls.items():
            samples[name].append(time_per_call(fn, args.number))
    med = {name: statistics.median(v) for name, v in samples.items()}

    print(f"tiny graph (a * b + c).sum().backward(), 4x4 float32, median of {args.rounds} rounds")
    print("| implementation | us per call | relative to tinygrad_rnn |")
    print("|---|---:|---:|")
    for name, t in med.items():
        print(f"| {name} | {t * 1e6:.1f} | {t / med['tinygrad_rnn']:.2f}x |")
    if "PyTorch eager" in med:
        # The ratio of each round (both timed back to back) is steadier than a ratio of medians
        # on a shared, noisy machine.
        print()
        for name, goal in (("tinygrad_rnn", 3.5), ("tinygrad_rnn (plain)", 2.5)):
            ratios = [t / o for t, o in zip(samples["PyTorch eager"], samples[name], strict=True)]
            ratio = statistics.median(ratios)
            print(
                f"{name} is {ratio:.2f}x faster than PyTorch eager (median of per-round ratios; range "
                f"{min(ratios):.2f}-{max(ratios):.2f}; goal: >= {goal}x: {'yes' if ratio >= goal else 'no'})"
            )
    else:
        print("\nPyTorch is not installed: no PyTorch column (pip install torch==2.13.0)")

    print()
    for name, mode in (("tinygrad_rnn", tg.speed.lessons), ("tinygrad_rnn (plain)", tg.plain)):
        runs = []
        for _ in range(1 if args.smoke else 3):
            with mode():
                runs.append(chain(args.chain_steps))
        fwd, bwd = [r[0] for r in runs], [r[1] for r in runs]
        total = [f + b for f, b in zip(fwd, bwd, strict=True)]
        print(
            f"{name}, chain of {2 * args.chain_steps:,} ops: forward {statistics.median(fwd):.3f} s, "
            f"backward {statistics.median(bwd):.3f} s, total {statistics.median(total):.3f} s "
            f"(median of {len(total)}; goal for 100,000 ops: < 2 s)"
        )


if __name__ == "__main__":
    main()
