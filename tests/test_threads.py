"""The engine's modes are per thread: one thread may train while another evaluates under no_grad.

Every test interleaves two threads at fixed points with barriers (never sleeps), so each run takes
the same path: thread B is inside its mode exactly while thread A records, computes or backpropagates.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_rnn as tg


def run_together(*targets):
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors = []

    def guarded(fn):
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 (handed to the main thread)
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a thread did not finish (deadlock at a barrier?)"
    if errors:
        raise errors[0]


def lstm_and_batch(seed=0):
    tg.manual_seed(seed)
    model = tg.nn.LSTM(3, 5).double()
    x = tg.Tensor(np.random.default_rng(seed).normal(size=(6, 2, 3)))
    return model, x


def grads_of(model, x):
    model.zero_grad()
    out, _ = model(x)
    (out * out).sum().backward()
    return [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("rounds", [20])
def test_training_beside_no_grad_inference_gets_the_same_gradients(rounds):
    model, x = lstm_and_batch()
    expected = grads_of(model, x)
    evaluator, batch = lstm_and_batch(seed=1)
    with tg.no_grad():
        expected_eval = evaluator(batch)[0].data.copy()
    inside, done = threading.Barrier(2), threading.Barrier(2)
    wrong, eval_wrong = [], []

    def train():
        for i in range(rounds):
            inside.wait()  # the other thread is now inside no_grad
            got = grads_of(model, x)
            if any(not np.array_equal(g, e) for g, e in zip(got, expected, strict=True)):
                wrong.append(i)
            done.wait()

    def evaluate():
        for _ in range(rounds):
            with tg.no_grad():
                inside.wait()
                out = evaluator(batch)[0]
                if out.requires_grad or not np.array_equal(out.data, expected_eval):
                    eval_wrong.append(out)
                done.wait()

    run_together(train, evaluate)
    assert wrong == [] and eval_wrong == []
    assert tg.is_grad_enabled()


@pytest.mark.parametrize("shared", [False, True], ids=["two objects", "one no_grad object"])
def test_overlapping_no_grad_blocks_leave_grad_mode_as_it_was(shared):
    ng = tg.no_grad()
    step = threading.Barrier(2)
    seen = {"a": [], "b": []}

    def a():
        with ng if shared else tg.no_grad():
            step.wait()  # 1: both inside
            step.wait()  # 2
            seen["a"].append(tg.is_grad_enabled())
        step.wait()  # 3: A has left, B is still inside
        seen["a"].append(tg.is_grad_enabled())
        step.wait()  # 4
        step.wait()  # 5: B has left
        seen["a"].append(tg.is_grad_enabled())

    def b():
        with ng if shared else tg.no_grad():
            step.wait()  # 1
            step.wait()  # 2
            step.wait()  # 3
            seen["b"].append(tg.is_grad_enabled())
            step.wait()  # 4
        step.wait()  # 5
        seen["b"].append(tg.is_grad_enabled())

    run_together(a, b)
    assert seen == {"a": [False, True, True], "b": [False, True]}
    assert tg.is_grad_enabled()


def test_scopes_are_per_thread():
    step = threading.Barrier(2)
    made = {}

    def work(name):
        def run():
            with tg.scope(name):
                step.wait()  # both threads inside their own scope
                with tg.scope("t=0"):
                    x = tg.Tensor([1.0], requires_grad=True)
                    made[name] = (x, x * 2)
                step.wait()
            made[name + " after"] = tg.current_scope()

        return run

    run_together(work("a"), work("b"))
    for name in ("a", "b"):
        leaf, result = made[name]
        assert leaf.scope == (name, "t=0") and result.scope == (name, "t=0")
        assert made[name + " after"] == ()


def test_a_shared_scope_object_nests_in_two_threads():
    layer = tg.scope("layer")
    step = threading.Barrier(2)
    seen = []

    def run():
        with layer:
            step.wait()
            with layer:
                step.wait()
                seen.append(tg.current_scope())
            step.wait()
            seen.append(tg.current_scope())
        seen.append(tg.current_scope())

    run_together(run, run)
    assert sorted(seen) == sorted([("layer", "layer")] * 2 + [("layer",)] * 2 + [()] * 2)


def test_anomaly_mode_raises_only_in_its_own_thread():
    step = threading.Barrier(2)
    outcome = {}

    def strict():
        with tg.detect_anomaly():
            step.wait()  # the other thread makes its nan now
            step.wait()
            with pytest.raises(tg.AnomalyError, match="log"), np.errstate(invalid="ignore"):
                tg.Tensor([-1.0], requires_grad=True).log()
            outcome["strict"] = "raised"

    def lenient():
        step.wait()
        with np.errstate(invalid="ignore"):
            y = tg.Tensor([-1.0], requires_grad=True).log()
        outcome["lenient"] = bool(np.isnan(y.data).all())
        step.wait()

    run_together(strict, lenient)
    assert outcome == {"strict": "raised", "lenient": True}


def test_keep_values_is_per_thread():
    step = threading.Barrier(2)
    kept = {}

    def keeping():
        with tg.keep_values():
            step.wait()
            step.wait()
            kept["on"] = (tg.Tensor([2.0], requires_grad=True) * 3)._ctx.values

    def not_keeping():
        step.wait()
        kept["off"] = (tg.Tensor([2.0], requires_grad=True) * 3)._ctx.values
        step.wait()

    run_together(keeping, not_keeping)
    assert kept["off"] is None and kept["on"][0].tolist() == [6.0]


def test_a_new_thread_starts_with_the_default_modes():
    seen = []
    with tg.no_grad(), tg.scope("main"), tg.detect_anomaly(), tg.keep_values():
        run_together(lambda: seen.append((tg.is_grad_enabled(), tg.current_scope())))
    assert seen == [(True, ())]


def test_no_grad_as_a_decorator():
    @tg.no_grad()
    def predict(x):
        return x * 2

    y = predict(tg.Tensor([1.0], requires_grad=True))
    assert not y.requires_grad and tg.is_grad_enabled()
