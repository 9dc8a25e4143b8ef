"""The LSTM benchmark: its hand-written numpy LSTM is right (a wrong baseline is worthless), and the script runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ops
from tinygrad_rnn.tensor import topological_order

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench_lstm.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_lstm", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()
bare_tape = sys.modules["bare_tape"]  # imported by bench_lstm, from the same directory


@pytest.mark.parametrize("tuned", [False, True], ids=["per-step", "tuned"])
@pytest.mark.parametrize(
    "B,T,I,H,one_hot", [(3, 6, 4, 5, False), (1, 4, 7, 3, True), (2, 1, 3, 2, False), (9, 3, 4, 64, False)]
)
def test_numpy_lstm_matches_tg_lstm_in_float64(B, T, I, H, one_hot, tuned):
    """Outputs and all four parameter gradients, for a random dL/d(output) so every step's gradient differs."""
    weights, x = bench.make_problem(B, T, I, H, one_hot, dtype=np.float64, seed=3)
    dout = np.random.default_rng(4).standard_normal((T, B, H))

    h, cache = bench.lstm_forward(x, *(weights[k] for k in bench.PARAMS), tuned=tuned)
    grads = bench.lstm_backward(dout, cache)

    lstm = tg.nn.LSTM(I, H).double()
    lstm.load_state_dict({f"{k}_l0": v for k, v in weights.items()})
    output, _ = lstm(tg.Tensor(x))
    output.backward(dout)
    np.testing.assert_allclose(h, output.data, rtol=1e-12, atol=1e-12)
    named = dict(lstm.named_parameters())
    for k in bench.PARAMS:
        assert grads[k].dtype == np.float64
        np.testing.assert_allclose(grads[k], named[f"{k}_l0"].grad, rtol=1e-10, atol=1e-12, err_msg=k)


def test_bare_tape_records_tg_lstms_ops_and_gives_its_gradients():
    """The floor is only a floor if it does tg.nn.LSTM's work: the same ops, and the same gradients (float64)."""
    T, B, I, H = 5, 3, 4, 6
    weights, x = bench.make_problem(B, T, I, H, False, dtype=np.float64, seed=5)
    lstm = tg.nn.LSTM(I, H).double()
    lstm.load_state_dict({f"{k}_l0": v for k, v in weights.items()})
    loss = lstm(tg.Tensor(x))[0].sum()
    graph_ops = Counter(type(fn).__name__ for fn in topological_order(loss))

    tape = bare_tape.Tape()
    params = {k: bare_tape.Value(v) for k, v in weights.items()}
    tape_loss = bare_tape.record_lstm(tape, params, bare_tape.Value(x, needs_grad=False))
    assert Counter(type(fn).__name__ for fn, _, _ in tape.entries) == graph_ops
    assert graph_ops["Sigmoid"] == 3 * T and graph_ops["Split"] == T  # a real LSTM graph, not two empty ones
    np.testing.assert_allclose(tape_loss.data, loss.data, rtol=1e-12)

    loss.backward()
    tape.backward(tape_loss)
    assert tape.entries == []
    named = dict(lstm.named_parameters())
    for k in bench.PARAMS:
        np.testing.assert_allclose(params[k].slot.grad, named[f"{k}_l0"].grad, rtol=1e-10, atol=1e-12, err_msg=k)
    step = bare_tape.bare_tape_lstm(weights, x)  # bench_lstm's contender: the same gradients, step after step
    for _ in range(2):
        got = step()
        for k in bench.PARAMS:
            np.testing.assert_allclose(got[k], named[f"{k}_l0"].grad, rtol=1e-10, atol=1e-12, err_msg=k)


def _trace_numpy_work(monkeypatch, step) -> Counter:
    """Run step() once and count what the ops do: each forward (op, its array inputs' shapes and
    whether each is C-contiguous, which decides the matmul layout, and whether overflow warnings
    are already quiet), each backward, and each weight-gradient product (how many factors it sums)."""
    seen: Counter = Counter()
    for cls in vars(ops).values():
        if isinstance(cls, type) and issubclass(cls, ops.Function) and "forward" in vars(cls):

            def forward(self, *arrays, _orig=cls.forward, **options):
                inputs = tuple((a.shape, a.flags.c_contiguous) for a in arrays if isinstance(a, np.ndarray))
                seen["forward", type(self).__name__, inputs, ops._quiet.get()] += 1
                return _orig(self, *arrays, **options)

            def backward(self, g, _orig=cls.backward):
                seen["backward", type(self).__name__] += 1
                return _orig(self, g)

            monkeypatch.setattr(cls, "forward", forward)
            monkeypatch.setattr(cls, "backward", backward)
    multiply_out = ops.MatmulGrad._multiply_out

    def counted(self):
        if self.a:
            seen["weight-gradient product", len(self.a)] += 1
        multiply_out(self)

    monkeypatch.setattr(ops.MatmulGrad, "_multiply_out", counted)
    step()
    monkeypatch.undo()
    return seen


def test_bare_tape_does_tg_lstms_numpy_work_at_a_benchmark_size(monkeypatch):
    """float32 at B=32, H=128, where MatMul picks its layout by the inputs' memory order: the tape
    calls the same ops on the same shapes and layouts, inside the same overflow block, and sums each
    weight's gradient in the same products. The only differences: tg.nn.LSTM picks layer 0's zero h
    and c out of one (num_layers, B, H) array, and stacks h_n and c_n, which the loss does not use."""
    B, T, I, H = 32, 3, 64, 128
    weights, x = bench.make_problem(B, T, I, H, False)
    tg_work = _trace_numpy_work(monkeypatch, bench.tg_lstm(weights, x))
    tape_work = _trace_numpy_work(monkeypatch, bare_tape.bare_tape_lstm(weights, x))
    state_pieces = ("forward", "GetItem", (((1, B, H), True),), False)
    assert tg_work - tape_work == Counter({("forward", "Stack", (((B, H), True),), False): 2, state_pieces: 2})
    assert tape_work - tg_work == Counter()
    assert tape_work["weight-gradient product", T] == 1  # weight_hh's: all T steps' factors in one product
    # 12 ops a step; and two transposes, the biases' add, the projection's matmul and add, unbind, stack, sum
    assert sum(n for key, n in tape_work.items() if key[0] == "backward") == 12 * T + 8


def test_gradient_check_catches_a_wrong_contender():
    weights, x = bench.make_problem(2, 3, 4, 5, False)
    reference = bench.numpy_by_hand(weights, x)()
    wrong = dict(reference, weight_hh=reference["weight_hh"] * 1.01)
    bench.check_gradients("numpy by hand", reference, reference)
    with pytest.raises(AssertionError, match="weight_hh"):
        bench.check_gradients("wrong", wrong, reference)


def test_lstm_benchmark_smoke():
    """Not a timing test: the script runs every contender, checks their gradients, and prints its tables."""
    result = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    out = result.stdout
    for row in ("| numpy by hand |", "| tg.nn.LSTM |", "| tg.nn.LSTMCell loop |", "peak memory of one training step"):
        assert row in out
    assert out.count("| tg.nn.LSTM |") == 5  # four sizes and the memory table
    assert out.count("| bare tape (tg's ops) |") == 4
    assert "tiny: B=2, T=3" in out
    assert "goals (medians of per-round ratios)" in out


def test_matmul_layout_benchmark_runs_and_checks_both_products_agree():
    """Not a timing test: the script behind MatMul's layout choice runs (it asserts the two products agree)."""
    script = ROOT / "benchmarks" / "bench_matmul_layout.py"
    result = subprocess.run([sys.executable, str(script), "--rounds", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("| 32 x 128 -> 512 |") == 1
