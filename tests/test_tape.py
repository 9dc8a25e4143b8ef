"""demos/tape.py, autograd in 50 lines: the same gradients as the engine on an LSTM, from the same ops."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("tape", ROOT / "demos" / "tape.py")
tape = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tape)


def test_the_tape_gives_the_engines_gradients_on_an_lstm():
    assert tape.compare(steps=6) < 1e-12


def test_the_tape_runs_the_ops_the_engine_records():
    """The same primitive ops as tg.nn.LSTMCell run step by step, and the same number of each."""
    rng = np.random.default_rng(1)
    T, B, I, H = 4, 2, 3, 5
    cell = tg.nn.LSTMCell(I, H).double()
    x = rng.standard_normal((T, B, I))
    state, total = None, None
    with tg.plain():
        for x_t in tg.Tensor(x):
            state = cell(x_t, state)
            total = state[0].sum() if total is None else total + state[0].sum()
    engine = Counter(node.name for node in tg.topological_order(total))
    t = tape.Tape()
    weights = {k: tape.Value(getattr(cell, k).data) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    loss = tape.lstm_loss(t, tape.Value(x, needs_grad=False), **weights)
    on_tape = Counter(fn.name for fn, _, _ in t.ops)
    assert on_tape.pop("unbind") == 1  # the tape also writes down the unbind of x, which needs no gradient
    assert on_tape == engine
    t.backward(loss)
    total.backward()
    for k, v in weights.items():
        np.testing.assert_allclose(v.grad, getattr(cell, k).grad, rtol=1e-12, atol=1e-14, err_msg=k)


def test_docs_autograd_shows_the_tape_of_the_demo():
    """docs/autograd.md starts with the tape: the same code as demos/tape.py, not a copy that drifts."""
    page = (ROOT / "docs" / "autograd.md").read_text(encoding="utf-8")
    demo = (ROOT / "demos" / "tape.py").read_text(encoding="utf-8")
    engine = demo[demo.index("class Value:") : demo.index("# -- an LSTM on the tape")].rstrip()
    assert engine in page, "docs/autograd.md does not show demos/tape.py's Value and Tape as they are"


def test_docs_autograd_quotes_the_tours_output_as_it_prints():
    """Every ```text block of docs/autograd.md is a piece of demos/autograd_tour.py's output, line for line."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "autograd_tour.py")], capture_output=True, text=True, timeout=120
    ).stdout
    printed = [line.rstrip() for line in out.splitlines()]
    page = (ROOT / "docs" / "autograd.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```text\n(.*?)^```", page, re.S | re.M)
    assert len(blocks) >= 8, "docs/autograd.md walks the tour's output in pieces, as text blocks"
    for block in blocks:
        quoted = [line.rstrip() for line in block.splitlines()]
        found = any(printed[i : i + len(quoted)] == quoted for i in range(len(printed) - len(quoted) + 1))
        assert found, f"docs/autograd.md quotes lines demos/autograd_tour.py does not print (together):\n{block}"
