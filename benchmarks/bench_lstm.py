"""One LSTM training step (forward + backward, float32), side by side with hand-written numpy and PyTorch.

The same step, with the same weights and the same input, by:
1. tg.nn.LSTM, our layer, with the speed lessons (tinygrad_rnn/speed, the default) and with the plain
   core (`tg.plain()`);
2. numpy by hand: `lstm_forward` / `lstm_backward` below, backpropagation through time written out,
   a reference to read as well as a baseline. It does an LSTM step's matmuls at every step, x_t @ W_ih^T
   and h_{t-1} @ W_hh^T (and their gradients), as min-char-rnn does: the baseline of the goals;
3. the same numpy code tuned (`tuned=True`) as tg.nn.LSTM runs with its lessons: the input projection
   hoisted out of the loop (all T steps' x_t @ W_ih^T in one matmul), and for a batch of 8-48 rows the
   recurrent product computed as (W_hh @ h.T).T, which OpenBLAS runs faster than h @ W_hh.T
   (speed/matmul_layout.py). The strongest numpy we wrote, reported alongside;
4. PyTorch eager, with an LSTM cell built from primitive ops (matmul, sigmoid, tanh, mul, add, slicing)
   unrolled in Python: what tg.nn.LSTM does, on PyTorch's engine;
5. torch.nn.LSTM, PyTorch's fused layer, for reference;
6. tg.nn.LSTMCell called by hand in a Python loop, as a learner would write it (speed and plain).

What is computed: the input x (T, B, I) is data (no gradient wanted); the state starts at zero; the loss
is the sum of the outputs h_1..h_T; one step gives the gradients of weight_ih, weight_hh, bias_ih, bias_hh.
Before timing, every implementation's gradients are checked against numpy's (tests/test_bench_lstm.py
checks numpy's against tg.nn.LSTM's in float64), so no row times a wrong answer.

Sizes: B=32, T=50, I=64 with H=128 and H=512; and min-char-rnn's: B=1, T=25, one-hot input of 65, H=100.
Also "tiny" (B=2, T=50, I=4, H=4), with no goal: its arithmetic is almost free, so it shows each engine's
own cost per step.
Goals (with the speed lessons): tg.nn.LSTM at most 1.15x numpy by hand at H=128 and 0.90x at H=512, at
most 0.75x of the PyTorch primitive-op cell at the min-char size; the LSTMCell loop within 1.25x of
numpy by hand at H=512; the peak memory of a T=1000, B=32, I=64, H=256 training step (traced by
tracemalloc, each in a fresh process) within 1.1x of numpy by hand.

Every implementation is timed in the same run, interleaved, several rounds; each ratio is the median of
the ratios of one round (both timed back to back), steadier than a ratio of medians on a shared machine.
BLAS and PyTorch use one thread (export OPENBLAS_NUM_THREADS to change it). The process keeps freed
memory between steps (tg.speed.keep_freed_memory(), the malloc lesson), which every row shares.
Run:  python benchmarks/bench_lstm.py [--rounds 9] [--only h128 h512 min-char tiny memory] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

if __name__ == "__main__":  # before numpy loads, or it has already started its BLAS threads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn.speed.matmul_layout import rows_by_transposed_weight  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is an optional reference
    torch = None

PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # PyTorch's names and layout: gates i, f, g, o
Grads = dict[str, np.ndarray]

# name -> (B, T, I, H, one-hot input)
SIZES = {
    "h128": (32, 50, 64, 128, False),
    "h512": (32, 50, 64, 512, False),
    "min-char": (1, 25, 65, 100, True),
    "tiny": (2, 50, 4, 4, False),  # no goal: the arithmetic is almost free, what is left is the engines' own cost
}
SMOKE_SIZES = {
    "h128": (2, 3, 5, 4, False),
    "h512": (2, 3, 5, 8, False),
    "min-char": (1, 3, 7, 4, True),
    "tiny": (2, 3, 2, 2, False),
}
MEMORY_SIZE = (32, 1000, 64, 256)  # B, T, I, H
SMOKE_MEMORY_SIZE = (2, 20, 5, 8)


# ------------------------------------------------------------------------------------------------
# The hand-written numpy LSTM: forward over a whole sequence, then backpropagation through time
# ------------------------------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))  # exp may overflow to inf for x < -88 (float32): the result is still 0


def lstm_forward(x: np.ndarray, weight_ih, weight_hh, bias_ih, bias_hh, tuned: bool = True) -> tuple[np.ndarray, tuple]:
    """Run an LSTM over x (T, B, I) from a zero state; return the outputs h (T, B, H) and the cache for backward.

    PyTorch's equations and layout: the 4H rows of the weights are the gates i, f, g, o. With tuned=True
    the input's contribution to the gates is computed for all T steps in one matmul (it does not depend
    on h), and the recurrent product takes OpenBLAS's quicker layout where it is quicker; with
    tuned=False each step does its own x_t @ W_ih^T, as min-char-rnn's step function does.
    """
    T, B, I = x.shape
    H = weight_hh.shape[1]
    bias = bias_ih + bias_hh
    hoist = tuned  # the input projection of all T steps in one matmul
    # (W_hh @ h.T).T where tg's MatMul computes it so (the same rule: rows, width, dtype)
    flip = tuned and rows_by_transposed_weight(np.empty((B, H), x.dtype), weight_hh.T)
    gx = (x.reshape(T * B, I) @ weight_ih.T + bias).reshape(T, B, 4 * H) if hoist else None
    i, f, g, o, c, tanh_c, h = (np.empty((T, B, H), dtype=x.dtype) for _ in range(7))
    h_prev = c_prev = np.zeros((B, H), dtype=x.dtype)
    for t in range(T):
        a_x = gx[t] if hoist else x[t] @ weight_ih.T + bias
        # (B, 4H) gate pre-activations; h_prev @ W_hh^T, or the same product as (W_hh @ h_prev^T)^T
        a = a_x + (np.ascontiguousarray((weight_hh @ h_prev.T).T) if flip else h_prev @ weight_hh.T)
        i[t] = sigmoid(a[:, :H])  # input gate: how much new to write
        f[t] = sigmoid(a[:, H : 2 * H])  # forget gate: how much of c to keep
        g[t] = np.tanh(a[:, 2 * H : 3 * H])  # candidate values
        o[t] = sigmoid(a[:, 3 * H :])  # output gate
        c[t] = f[t] * c_prev + i[t] * g[t]
        tanh_c[t] = np.tanh(c[t])
        h[t] = o[t] * tanh_c[t]
        h_prev, c_prev = h[t], c[t]
    return h, (x, weight_ih, weight_hh, i, f, g, o, c, tanh_c, h, hoist)


def lstm_backward(dh_out: np.ndarray, cache: tuple) -> Grads:
    """Backpropagation through time. dh_out (T, B, H) is dL/dh_t of every output; returns the parameters' grads.

    Each step receives gradient from its own output and, through h_t and c_t, from the step after it.
    """
    x, weight_ih, weight_hh, i, f, g, o, c, tanh_c, h, hoist = cache
    T, B, H = h.shape
    zero = np.zeros((B, H), dtype=h.dtype)  # h_0 and c_0
    da = np.empty((T, B, 4 * H), dtype=h.dtype)  # dL/d(gate pre-activations) of every step
    dweight_hh = np.zeros_like(weight_hh)
    dweight_ih = None if hoist else np.zeros_like(weight_ih)
    dh_next = dc_next = zero  # gradient flowing back into h_t and c_t from step t+1
    for t in reversed(range(T)):
        h_prev, c_prev = (h[t - 1], c[t - 1]) if t else (zero, zero)
        dh = dh_out[t] + dh_next
        do = dh * tanh_c[t]  # backprop h = o * tanh(c) into o ...
        dc = dc_next + dh * o[t] * (1 - tanh_c[t] ** 2)  # ... and into c (plus what c_{t+1} sends back)
        da[t, :, :H] = dc * g[t] * i[t] * (1 - i[t])  # c = f * c_prev + i * g, then i = sigmoid(a_i)
        da[t, :, H : 2 * H] = dc * c_prev * f[t] * (1 - f[t])  # f = sigmoid(a_f)
        da[t, :, 2 * H : 3 * H] = dc * i[t] * (1 - g[t] ** 2)  # g = tanh(a_g)
        da[t, :, 3 * H :] = do * o[t] * (1 - o[t])  # o = sigmoid(a_o)
        dweight_hh += da[t].T @ h_prev  # a = ... + h_prev @ W_hh^T
        if not hoist:
            dweight_ih += da[t].T @ x[t]  # a = x_t @ W_ih^T + ..., one step at a time
        dh_next = da[t] @ weight_hh
        dc_next = dc * f[t]
    da_all = da.reshape(T * B, 4 * H)
    dbias = da_all.sum(axis=0)  # both biases are added to every step's a
    return {
        # With the input projection hoisted, its gradient is one matmul over all steps too.
        "weight_ih": da_all.T @ x.reshape(T * B, -1) if hoist else dweight_ih,
        "weight_hh": dweight_hh,
        "bias_ih": dbias,
        "bias_hh": dbias.copy(),
    }


# ------------------------------------------------------------------------------------------------
# The contenders: each builds its model once and returns step(), one training step -> the gradients
# ------------------------------------------------------------------------------------------------


def numpy_by_hand(w: Grads, x: np.ndarray, tuned: bool = False) -> Callable[[], Grads]:
    def step():
        h, cache = lstm_forward(x, *(w[k] for k in PARAMS), tuned=tuned)
        return lstm_backward(np.ones_like(h), cache)  # loss = h.sum()

    return step


def numpy_tuned(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
    return numpy_by_hand(w, x, tuned=True)


def tg_lstm(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
    lstm = tg.nn.LSTM(x.shape[-1], w["weight_hh"].shape[1])
    lstm.load_state_dict({f"{k}_l0": v for k, v in w.items()})
    named = dict(lstm.named_parameters())
    params = {k: named[f"{k}_l0"] for k in PARAMS}
    xt = tg.Tensor(x)

    def step():
        lstm.zero_grad()
        output, _ = lstm(xt)
        output.sum().backward()
        return {k: p.grad for k, p in params.items()}

    return step


def tg_lstmcell_loop(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
    cell = tg.nn.LSTMCell(x.shape[-1], w["weight_hh"].shape[1])
    cell.load_state_dict(w)
    xt = tg.Tensor(x)

    def step():
        cell.zero_grad()
        state, hs = None, []
        for t in range(len(xt)):
            state = cell(xt[t], state)
            hs.append(state[0])
        tg.stack(hs).sum().backward()
        return {k: getattr(cell, k).grad for k in PARAMS}

    return step


def torch_primitive_cell(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
    params = {k: torch.tensor(w[k], requires_grad=True) for k in PARAMS}
    weight_ih, weight_hh, bias_ih, bias_hh = params.values()
    xt = torch.tensor(x)
    T, B, _ = x.shape
    H = weight_hh.shape[1]

    def step():
        for p in params.values():
            p.grad = None
        gi = xt @ weight_ih.T + bias_ih  # (T, B, 4H), all steps at once, as tg.nn.LSTM does
        h = c = torch.zeros(B, H)
        hs = []
        for t in range(T):
            a = gi[t] + (h @ weight_hh.T + bias_hh)
            i = a[:, :H].sigmoid()
            f = a[:, H : 2 * H].sigmoid()
            g = a[:, 2 * H : 3 * H].tanh()
            o = a[:, 3 * H :].sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            hs.append(h)
        torch.stack(hs).sum().backward()
        return {k: p.grad for k, p in params.items()}

    return step


def torch_fused(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
    lstm = torch.nn.LSTM(x.shape[-1], w["weight_hh"].shape[1])
    lstm.load_state_dict({f"{k}_l0": torch.tensor(v) for k, v in w.items()})
    named = dict(lstm.named_parameters())
    params = {k: named[f"{k}_l0"] for k in PARAMS}
    xt = torch.tensor(x)

    def step():
        lstm.zero_grad(set_to_none=True)
        output, _ = lstm(xt)
        output.sum().backward()
        return {k: p.grad for k, p in params.items()}

    return step


def plain(make: Callable) -> Callable:
    """The same contender, run by the plain core (no speed lessons)."""

    def make_plain(w: Grads, x: np.ndarray) -> Callable[[], Grads]:
        step = make(w, x)

        def run():
            with tg.plain():
                return step()

        return run

    return make_plain


CONTENDERS = {
    "numpy by hand": numpy_by_hand,
    "numpy by hand, tuned": numpy_tuned,
    "tg.nn.LSTM": tg_lstm,
    "tg.nn.LSTM (plain)": plain(tg_lstm),
    "tg.nn.LSTMCell loop": tg_lstmcell_loop,
    "tg.nn.LSTMCell loop (plain)": plain(tg_lstmcell_loop),
    "PyTorch primitive cell": torch_primitive_cell,
    "torch.nn.LSTM (fused)": torch_fused,
}
TORCH_ROWS = ("PyTorch primitive cell", "torch.nn.LSTM (fused)")


def make_problem(B: int, T: int, I: int, H: int, one_hot: bool, dtype=np.float32, seed: int = 0):
    """PyTorch-initialised weights (from tg.nn.LSTMCell) and an input x (T, B, I)."""
    rng = np.random.default_rng(seed)
    cell = tg.nn.LSTMCell(I, H, rng=rng)
    weights = {k: getattr(cell, k).data.astype(dtype) for k in PARAMS}
    if one_hot:  # min-char-rnn feeds characters as one-hot vectors
        x = np.eye(I, dtype=dtype)[rng.integers(0, I, size=(T, B))]
    else:
        x = rng.standard_normal((T, B, I)).astype(dtype)
    return weights, x


def check_gradients(name: str, grads: Grads, reference: Grads) -> None:
    """float32 gradients summed over T*B terms: agree to a relative 1e-3 of the largest entry."""
    for k in PARAMS:
        got = np.asarray(grads[k].numpy() if torch is not None and isinstance(grads[k], torch.Tensor) else grads[k])
        ref = reference[k]
        scale = max(float(np.abs(ref).max()), 1e-6)
        if got.shape != ref.shape or not np.allclose(got, ref, rtol=1e-3, atol=1e-3 * scale):
            err = np.abs(got - ref).max() if got.shape == ref.shape else f"shape {got.shape} != {ref.shape}"
            raise AssertionError(f"{name}: gradient of {k} differs from numpy by hand's (max error {err})")


def time_per_call(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def bench_size(label: str, size: tuple, rounds: int, seconds: float, smoke: bool) -> dict[str, list[float]]:
    """Time every contender on one size; print its table; return per-round times by name."""
    B, T, I, H, one_hot = size
    weights, x = make_problem(B, T, I, H, one_hot)
    impls = {name: make(weights, x) for name, make in CONTENDERS.items() if torch is not None or name not in TORCH_ROWS}
    reference = impls["numpy by hand"]()
    for name, fn in impls.items():  # also the warm-up
        check_gradients(name, fn(), reference)
    number = 1 if smoke else max(1, round(seconds / time_per_call(impls["numpy by hand"], 1)))
    # Importing torch leaves ~165,000 objects that Python's garbage collector rescans in each full
    # collection (75 ms here). A contender that makes many Python objects (a graph) triggers one now
    # and then, and whichever round it lands in pays for torch's objects. Freezing what exists now
    # keeps them out of those scans; collections of the objects made while timing still run, for
    # every contender alike.
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            samples[name].append(time_per_call(fn, number))

    inp = f"one-hot input of {I}" if one_hot else f"I={I}"
    print(f"\n{label}: B={B}, T={T}, {inp}, H={H}; median of {rounds} rounds x {number} steps")
    print("| implementation | ms per step | relative to numpy by hand | per-round range | goal |")
    print("|---|---:|---:|---:|---|")
    for name, times in samples.items():
        r = ratios(samples, name, "numpy by hand")
        spread = "" if name == "numpy by hand" else f"{min(r):.2f}-{max(r):.2f}x"
        print(
            f"| {name} | {statistics.median(times) * 1e3:.2f} | {statistics.median(r):.2f}x "
            f"| {spread} | {goal_cell(label, name, samples)} |"
        )
    return samples


def ratios(samples: dict[str, list[float]], name: str, base: str) -> list[float]:
    return [a / b for a, b in zip(samples[name], samples[base], strict=True)]


# (size, contender) -> (baseline, limit): the contender's time over the baseline's must be at most limit.
GOALS = {
    ("h128", "tg.nn.LSTM"): ("numpy by hand", 1.15),
    ("h512", "tg.nn.LSTM"): ("numpy by hand", 0.90),
    ("min-char", "tg.nn.LSTM"): ("PyTorch primitive cell", 0.75),
    ("h512", "tg.nn.LSTMCell loop"): ("numpy by hand", 1.25),
}
MEMORY_GOAL = 1.1


def goal_verdict(label: str, name: str, samples: dict[str, list[float]]) -> tuple[float, str] | None:
    """(median ratio, 'yes'/'no') for a goal of this row, or None if it has none or its baseline did not run."""
    goal = GOALS.get((label, name))
    if goal is None or goal[0] not in samples:
        return None
    ratio = statistics.median(ratios(samples, name, goal[0]))
    return ratio, "yes" if ratio <= goal[1] else "no"


def goal_cell(label: str, name: str, samples: dict[str, list[float]]) -> str:
    goal = GOALS.get((label, name))
    if goal is None:
        return ""
    verdict = goal_verdict(label, name, samples)
    if verdict is None:
        return f"<= {goal[1]:.2f}x {goal[0]}: not measured (no PyTorch)"
    return f"<= {goal[1]:.2f}x {goal[0]} ({verdict[0]:.2f}x): **{verdict[1]}**"


# ------------------------------------------------------------------------------------------------
# Peak memory, each implementation in a fresh process
# ------------------------------------------------------------------------------------------------


MEMORY_ROWS = {
    "numpy": "numpy by hand",
    "numpy-tuned": "numpy by hand, tuned",
    "tg": "tg.nn.LSTM",
    "tg-plain": "tg.nn.LSTM (plain)",
}


def memory_child(which: str, smoke: bool) -> None:
    """Print the peak bytes tracemalloc sees during one training step (model and input made beforehand)."""
    B, T, I, H = SMOKE_MEMORY_SIZE if smoke else MEMORY_SIZE
    weights, x = make_problem(B, T, I, H, one_hot=False)
    makers = {"numpy": numpy_by_hand, "numpy-tuned": numpy_tuned, "tg": tg_lstm, "tg-plain": plain(tg_lstm)}
    step = makers[which](weights, x)
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak_bytes={peak}")


def peak_in_fresh_process(which: str, smoke: bool) -> int:
    cmd = [sys.executable, __file__, "--memory-child", which] + (["--smoke"] if smoke else [])
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().rpartition("peak_bytes=")[2])


def bench_memory(smoke: bool) -> float:
    B, T, I, H = SMOKE_MEMORY_SIZE if smoke else MEMORY_SIZE
    peaks = {which: peak_in_fresh_process(which, smoke) for which in MEMORY_ROWS}
    print(f"\npeak memory of one training step: B={B}, T={T}, I={I}, H={H} (tracemalloc, each in a fresh process)")
    print("| implementation | peak MB | relative to numpy by hand |")
    print("|---|---:|---:|")
    for which, name in MEMORY_ROWS.items():
        print(f"| {name} | {peaks[which] / 1e6:.2f} | {peaks[which] / peaks['numpy']:.2f}x |")
    return peaks["tg"] / peaks["numpy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds; medians are reported")
    parser.add_argument(
        "--seconds", type=float, default=0.5, help="numpy by hand's time per round; sets the steps per round"
    )
    parser.add_argument("--only", nargs="+", choices=[*SIZES, "memory"], help="run only these sizes")
    parser.add_argument("--smoke", action="store_true", help="small sizes, one round: checks the script runs")
    parser.add_argument("--memory-child", choices=list(MEMORY_ROWS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.smoke)
        return
    if args.smoke:
        args.rounds = 1
    kept = tg.speed.keep_freed_memory()
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"LSTM training step (forward + backward, float32, loss = sum of outputs); {threads} BLAS thread(s)")
    print("freed memory kept between steps (tg.speed.keep_freed_memory)" if kept else "malloc left as it is (no glibc)")
    if torch is None:
        print("PyTorch is not installed: no PyTorch rows (pip install torch==2.13.0)")
    if args.smoke:
        print("smoke run: small sizes, one round; the goals are not judged at these sizes")

    todo = args.only or [*SIZES, "memory"]
    sizes = SMOKE_SIZES if args.smoke else SIZES
    verdicts = []
    for label in sizes:
        if label in todo:
            samples = bench_size(label, sizes[label], args.rounds, args.seconds, args.smoke)
            for (size, name), (base, limit) in GOALS.items():
                if size == label:
                    verdicts.append((f"{name} / {base} at {label}", limit, goal_verdict(label, name, samples)))
    if "memory" in todo:
        ratio = bench_memory(args.smoke)
        verdict = (ratio, "yes" if ratio <= MEMORY_GOAL else "no")
        verdicts.append(("peak memory of tg.nn.LSTM / numpy by hand", MEMORY_GOAL, verdict))

    print("\ngoals (medians of per-round ratios)" + (", not judged in a smoke run:" if args.smoke else ":"))
    for what, limit, verdict in verdicts:
        result = "not measured (no PyTorch)" if verdict is None else f"measured {verdict[0]:.2f}x: {verdict[1]}"
        print(f"  {what}: goal <= {limit:.2f}x, {result}")


if __name__ == "__main__":
    main()
