"""Recurrent cells and layers against the outputs and gradients PyTorch stored in tests/reference/nn_reference.npz.

Each stored case holds a state_dict, inputs (and an initial state), projections that make the loss, and what
PyTorch computed: outputs, h_n/c_n, and the gradients of the inputs, the initial state and every parameter
(see tests/make_nn_reference.py, which makes the file). Here tinygrad_rnn loads the same state_dict, runs the
same computation and must agree: to 1e-9 in float64, and to 1e-4 in float32 (module.float(), inputs cast).
No PyTorch is needed; tests/test_nn_recurrent.py makes live comparisons when it is installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import recurrent

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

# Loaded by path: tests/ is not a package. The script imports torch only inside its functions.
_spec = importlib.util.spec_from_file_location("make_nn_reference", Path(__file__).parent / "make_nn_reference.py")
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

REGENERATE = "run `python tests/make_nn_reference.py`"

with np.load(ref.REFERENCE, allow_pickle=False) as _f:
    STORED: dict[str, np.ndarray] = dict(_f)
CONFIG: dict[str, dict] = json.loads(str(STORED["config"]))

TOLERANCES = {np.float64: 1e-9, np.float32: 1e-4}


def run_ours(name: str, dtype) -> dict[str, np.ndarray]:
    """The stored case run by tinygrad_rnn in dtype: outputs by name, gradients as grad/{input or parameter}."""
    entry = CONFIG[name]
    module = getattr(nn, entry["class"])(entry["input_size"], entry["hidden_size"], **entry["kwargs"])
    module.to_dtype(dtype)
    assert list(module.state_dict()) == entry["params"], "parameter names or order differ from PyTorch's"
    module.load_state_dict({p: STORED[f"{name}/{p}"] for p in entry["params"]})
    inputs = {k: tg.Tensor(STORED[f"{name}/{k}"].astype(dtype), requires_grad=True, name=k) for k in entry["inputs"]}
    outputs = ref.run_case(module, entry, inputs["input"], ref.initial_state(inputs), tg.stack)
    assert sorted(outputs) == entry["outputs"]
    projections = {k: tg.Tensor(STORED[f"{name}/proj/{k}"].astype(dtype)) for k in outputs}
    ref.loss_of(outputs, projections).backward()
    results = {k: v.data for k, v in outputs.items()}
    for n, t in [*inputs.items(), *module.named_parameters()]:
        assert t.grad is not None, f"no gradient reached {n}"
        results[f"grad/{n}"] = t.grad
    return results


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CONFIG))
def test_matches_stored_torch_reference(name, dtype):
    entry = CONFIG[name]
    ours = run_ours(name, dtype)
    expected = entry["outputs"] + [f"grad/{n}" for n in entry["inputs"] + entry["params"]]
    assert sorted(ours) == sorted(expected)
    tol = TOLERANCES[dtype]
    for key, value in ours.items():
        want = STORED[f"{name}/{key}"]
        assert value.shape == want.shape, f"{name}: {key} has shape {value.shape}, PyTorch's {want.shape}"
        assert value.dtype == dtype, f"{name}: {key} is {value.dtype}, expected {np.dtype(dtype)}"
        np.testing.assert_allclose(value, want, rtol=tol, atol=tol, err_msg=f"{name} ({entry['reference']}): {key}")


def test_every_cell_and_layer_has_a_reference():
    """Adding a cell or layer to tg.nn without a case in make_nn_reference.py fails here."""
    exported = {
        name
        for name in nn.__all__
        if isinstance(getattr(nn, name), type)
        and issubclass(getattr(nn, name), nn.Module)
        and getattr(nn, name).__module__ == recurrent.__name__
    }
    assert {"RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"} <= exported
    covered = {entry["class"] for entry in CONFIG.values()}
    assert exported <= covered, f"no stored reference for {sorted(exported - covered)}: add a case, {REGENERATE}"
    for cls in exported:  # each one with and without an initial state; each layer stacked and both batch layouts
        cases = [entry for entry in CONFIG.values() if entry["class"] == cls]
        assert {entry["initial_state"] for entry in cases} == {True, False}, cls
        if ref.is_layer({"class": cls}):
            assert any(entry["kwargs"].get("num_layers", 1) > 1 for entry in cases), cls
            batched = [entry["kwargs"].get("batch_first", False) for entry in cases if entry["batched"]]
            assert set(batched) == {True, False}, cls
    assert any(not entry["batched"] for entry in CONFIG.values() if ref.is_layer(entry))
    assert any(not entry["batched"] for entry in CONFIG.values() if not ref.is_layer(entry))


def test_stored_reference_is_up_to_date():
    assert sorted(CONFIG) == sorted(ref.CASES), REGENERATE
    for name, case in ref.CASES.items():
        entry = CONFIG[name]
        assert {k: entry[k] for k in case} == json.loads(json.dumps(case)), f"{name}: {REGENERATE}"
        assert (entry["input_size"], entry["hidden_size"]) == (ref.I, ref.H), f"{name}: {REGENERATE}"
        for k, v in ref.make_inputs(name).items():
            np.testing.assert_array_equal(STORED[f"{name}/{k}"], v, err_msg=f"{name}: {REGENERATE}")


@pytest.mark.parametrize("name", sorted(CONFIG))
def test_stored_reference_is_not_degenerate(name):
    """A gradient that is zero everywhere, or a relu that never clips, would make a comparison that proves little."""
    entry = CONFIG[name]
    for n in entry["inputs"] + entry["params"]:
        assert np.abs(STORED[f"{name}/grad/{n}"]).max() > 1e-3, f"{name}: the gradient of {n} is (nearly) zero"
    if entry["kwargs"].get("nonlinearity") == "relu":
        assert (STORED[f"{name}/output"] == 0).any() and (STORED[f"{name}/output"] > 0).any()
