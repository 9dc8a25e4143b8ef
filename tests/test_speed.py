"""The speed lessons (tinygrad_rnn/speed): each gives the numbers the plain core gives, records the same
graph, and is switched as documented."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, speed
from tinygrad_rnn.speed import matmul_layout

PACKAGE = Path(tg.__file__).parent


def lstm_step(dtype, lessons: tuple[str, ...] | None):
    """One LSTM training step on fixed weights, with the given lessons (None: the plain core)."""
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(5, 16, num_layers=2)
    for p in lstm.parameters():
        p.data = rng.standard_normal(p.shape).astype(dtype)
    x = tg.Tensor(rng.standard_normal((7, 12, 5)).astype(dtype))
    with tg.plain() if lessons is None else speed.lessons(*lessons):
        output, (h, c) = lstm(x)
        ((output * output).sum() + c.sum()).backward()
    return output.data, {k: p.grad for k, p in lstm.named_parameters()}


@pytest.mark.parametrize("lessons", [(name,) for name in speed.LESSONS] + [()], ids=[*speed.LESSONS, "all"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_lesson_gives_the_plain_cores_numbers(lessons, dtype):
    out_plain, grads_plain = lstm_step(dtype, None)
    out, grads = lstm_step(dtype, lessons)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out, out_plain, rtol=tol, atol=tol)
    for name, g in grads.items():
        assert g.dtype == dtype and g.shape == grads_plain[name].shape
        np.testing.assert_allclose(g, grads_plain[name], rtol=tol, atol=tol, err_msg=name)


def _graph(loss) -> list[tuple]:
    """Everything the engine records, with parents as positions in the order: comparable across runs."""
    order = tg.topological_order(loss)
    index = {node: k for k, node in enumerate(order)}
    rows = []
    for node in order:
        parents = tuple(
            ("node", index[p[0]], p[1]) if type(p) is tuple else ("leaf", p.name, p.shape) for p in node.parents
        )
        rows.append((node.name, parents, node.needs_input_grad, node.scope, node.dtype, node.shapes, node.names,
                     node.describe()))  # fmt: skip
    return rows


def test_the_short_recording_path_records_the_cores_graph():
    def build(mode):
        rng = np.random.default_rng(1)
        tg.manual_seed(0)
        cell = nn.PeepholeLSTMCell(3, 4)
        x = tg.Tensor(rng.standard_normal((5, 2, 3)), name="x")
        with mode, tg.scope("net"), tg.keep_values():
            state = None
            for t, x_t in enumerate(x):
                with tg.scope(f"t={t}"):
                    state = cell(x_t, state)
            loss = (state[0] ** 2).sum() / 2.0 - state[1].mean()
        return loss

    plain, fast = build(tg.plain()), build(speed.lessons("recording"))
    assert _graph(fast) == _graph(plain)
    for a, b in zip(tg.topological_order(fast), tg.topological_order(plain), strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(a.values, b.values, strict=True))


def test_the_short_recording_path_raises_the_cores_errors():
    a, b = tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((4, 5)))
    messages = []
    for mode in (tg.plain(), speed.lessons("recording")):
        with mode, tg.scope("demo"), pytest.raises(tg.OpError) as err:
            a @ b
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "(in scope demo)" in messages[0]
    with speed.lessons("recording"), tg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(tg.AnomalyError, match="log: forward"):
            tg.Tensor(np.array([-1.0]), requires_grad=True).log()


@pytest.mark.parametrize("rows", [7, 8, 32, 48, 49])  # around the rows for which the lesson uses W @ h.T
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_by_a_transposed_weight_equals_numpy_and_keeps_rows_contiguous(rows, dtype):
    """h @ W.T for a batch of 8-48 float32 rows is computed as (W @ h.T).T (quicker in OpenBLAS): same
    values and gradients as the plain product, and a C-ordered result (later ops are slow on a transposed one)."""
    rng = np.random.default_rng(rows)
    w = tg.Tensor(rng.standard_normal((256, 24)).astype(dtype), requires_grad=True)
    h = tg.Tensor(rng.standard_normal((rows, 24)).astype(dtype), requires_grad=True)
    assert matmul_layout.rows_by_transposed_weight(h.data, w.data.T) == (dtype == np.float32 and 8 <= rows <= 48)
    with speed.lessons("matmul_layout"):
        y = h @ w.T
    assert y.data.flags.c_contiguous and y.dtype == dtype
    np.testing.assert_allclose(y.data, h.data @ w.data.T, rtol=1e-5 if dtype == np.float32 else 1e-12)
    g = rng.standard_normal((rows, 256)).astype(dtype)
    y.backward(g)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(h.grad, g @ w.data, rtol=tol, atol=tol)
    np.testing.assert_allclose(w.grad, g.T @ h.data, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "a_shape, b, flips",
    [
        ((32, 128), np.ones((512, 128), np.float32).T, True),  # the recurrent step at H=128
        ((32, 128), np.ones((128, 512), np.float32), False),  # not transposed: the plain product is quick
        ((32, 1), np.ones((1, 512), np.float32), False),  # one row is both C and F ordered: no gain
        ((32, 128), np.ones((200, 128), np.float32).T, False),  # narrow result
        ((1, 128), np.ones((512, 128), np.float32).T, False),  # a batch of one (min-char-rnn)
        ((32, 128), np.ones((512, 128)).T, False),  # float64: measured slower that way
    ],
)
def test_which_products_the_layout_lesson_flips(a_shape, b, flips):
    a = np.ones(a_shape, b.dtype)
    assert matmul_layout.rows_by_transposed_weight(a, b) is flips


def test_plain_and_lessons_are_per_thread_and_restored():
    assert speed.enabled()
    seen = []
    inside, done = threading.Event(), threading.Event()

    def other():
        with tg.plain():
            inside.set()
            done.wait(5)
            seen.append(speed.enabled())

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    seen.append(speed.enabled())  # this thread still runs the lessons
    done.set()
    t.join()
    assert seen == [True, False] and speed.enabled()
    with pytest.raises(KeyError), tg.plain():
        raise KeyError
    assert speed.enabled()
    with pytest.raises(ValueError, match="unknown lessons"):
        speed.lessons("fused_lstm")


@pytest.mark.parametrize("value, enabled", [("1", False), ("0", True), ("", True)])
def test_the_environment_variable_runs_the_plain_core(value, enabled):
    env = {**os.environ, "TINYGRAD_RNN_PLAIN": value}
    code = "import tinygrad_rnn as tg; print(tg.speed.enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(enabled)


def test_a_bad_environment_variable_is_named():
    env = {**os.environ, "TINYGRAD_RNN_PLAIN": "yes"}
    out = subprocess.run([sys.executable, "-c", "import tinygrad_rnn"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "TINYGRAD_RNN_PLAIN must be 1" in out.stderr


def _imports(path: Path) -> set[str]:
    """Every module a file imports, as written (relative imports keep their dots)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names |= {f"{base}.{a.name}" if not node.module else base for a in node.names} | {base}
    return names


def test_the_core_never_imports_the_lessons_nor_nn_the_engines_internals():
    for path in (PACKAGE / "core").glob("*.py"):
        assert not any("speed" in name for name in _imports(path)), f"{path.name} imports tinygrad_rnn.speed"
    for path in (PACKAGE / "nn").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and "core" in node.module:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert node.module == "core" and not private, f"nn/{path.name} imports {node.module} {private}"
