"""Why ops.MatMul computes h @ W.T as (W @ h.T).T for a batch of 8-48 rows.

An RNN step multiplies a few rows (the batch) by a transposed weight: h @ W.T, with W.T a view of
W's memory. numpy hands both to BLAS as they are, and OpenBLAS turns out to be much slower on
this layout than on the same product computed the other way round, W @ h.T, transposed back into
rows. This script times both (float32, one BLAS thread) for the recurrent products of the LSTM
benchmark and a few sizes around them, and checks they agree.

Run:  python benchmarks/bench_matmul_layout.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

# (rows, inner, outer): h is (rows, inner), W is (outer, inner)
SHAPES = [
    (32, 128, 512),  # the LSTM benchmark at H=128: h @ W_hh.T
    (32, 512, 2048),  # ... at H=512
    (8, 128, 512),
    (48, 128, 512),
    (64, 128, 512),  # outside the range: about even
    (1, 100, 400),  # min-char-rnn's batch of one: no gain either
    (32, 64, 512),  # an LSTMCell's input product x_t @ W_ih.T
]


def per_call(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"float32, {os.environ.get('OPENBLAS_NUM_THREADS', '?')} BLAS thread(s); median of {args.rounds} rounds")
    print("| rows x inner -> outer | h @ W.T, µs | (W @ h.T).T made contiguous, µs | ratio |")
    print("|---|---:|---:|---:|")
    for rows, inner, outer in SHAPES:
        h = rng.standard_normal((rows, inner)).astype(np.float32)
        w = rng.standard_normal((outer, inner)).astype(np.float32)

        def plain(h=h, w=w):
            return h @ w.T

        def flipped(h=h, w=w):
            return np.ascontiguousarray((w @ h.T).T)

        np.testing.assert_allclose(plain(), flipped(), rtol=1e-4, atol=1e-4)
        number = max(3, int(2e8 / (rows * inner * outer)))
        a, b = [], []
        for _ in range(args.rounds):
            a.append(per_call(plain, number))
            b.append(per_call(flipped, number))
        ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
        print(
            f"| {rows} x {inner} -> {outer} | {statistics.median(a) * 1e6:.1f} | "
            f"{statistics.median(b) * 1e6:.1f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
