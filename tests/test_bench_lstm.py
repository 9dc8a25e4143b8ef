"""The LSTM benchmark: its hand-written numpy LSTM is right (a wrong baseline is worthless), and the script runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench_lstm.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_lstm", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


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
    assert out.count("| tg.nn.LSTM (plain) |") == 5  # every speed row has its plain row
    assert out.count("| tg.nn.LSTMCell loop (plain) |") == 4
    assert "tiny: B=2, T=3" in out
    assert "goals (medians of per-round ratios)" in out


def test_matmul_layout_benchmark_runs_and_checks_both_products_agree():
    """Not a timing test: the script behind MatMul's layout choice runs (it asserts the two products agree)."""
    script = ROOT / "benchmarks" / "bench_matmul_layout.py"
    result = subprocess.run([sys.executable, str(script), "--rounds", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("| 32 x 128 -> 512 |") == 1
