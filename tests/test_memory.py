"""tinygrad_rnn.memory: freed memory stays in the process between training steps (glibc only)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import memory

glibc = pytest.mark.skipif(not memory._glibc(), reason="mallopt is glibc's; elsewhere nothing is changed")


@pytest.mark.parametrize("megabytes", [-1, 0, 2048])
def test_size_out_of_range_is_refused(megabytes):
    with pytest.raises(ValueError, match=f"megabytes must be between 1 and 2047, got {megabytes}"):
        memory.keep_freed_memory(megabytes)


@glibc
def test_setting_is_accepted_by_glibc():
    assert memory.keep_freed_memory(memory.KEEP_MB) is True


@glibc
def test_repeated_training_steps_do_not_page_fault():
    """The reason for the setting: without it, each LSTM step of this size took 2,000-4,000 page faults
    (glibc handed the freed heap back to the OS and the next step touched it again)."""
    lstm = tg.nn.LSTM(64, 128)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((50, 32, 64)).astype(np.float32))

    def step():
        lstm.zero_grad()
        out, _ = lstm(x)
        out.sum().backward()

    for _ in range(3):  # warm-up: the heap grows to what a step needs
        step()
    faults = []
    for _ in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        step()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    assert sorted(faults)[len(faults) // 2] < 100, faults  # the median step: about 0, against thousands


@pytest.mark.parametrize("value", ["lots", "-1", "4096", "1.5"])
def test_environment_variable_must_be_a_number_in_range(value):
    env = dict(os.environ, TINYGRAD_RNN_KEEP_FREED_MB=value)
    result = subprocess.run([sys.executable, "-c", "import tinygrad_rnn"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"TINYGRAD_RNN_KEEP_FREED_MB must be a whole number of MB from 0 to 2047, got {value!r}" in result.stderr


CHURN = """
import resource, sys
import numpy as np
import tinygrad_rnn  # the import alone sets malloc up (or not, with the variable at 0)

def churn():
    big = np.empty(13_000_000 // 4, np.float32)  # 13 MB, as that LSTM's gate gradients
    big.fill(1.0)
    mid = np.empty(800_000, np.float32)  # 3.2 MB
    mid.fill(2.0)

churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@glibc
@pytest.mark.parametrize("value", [None, "", "0"], ids=["unset", "empty: the default", "0: malloc left alone"])
def test_importing_sets_malloc_up_unless_told_not_to(value):
    """Arrays of a few MB, allocated and freed again and again, come back from the heap. Setting glibc's trim
    threshold alone would switch off its own raising of the mmap threshold, so every array above 128 KB was
    mapped afresh (a hand-written numpy LSTM at H=512 went from 7,000 page faults a step to 46,000)."""
    env = dict(os.environ)
    env.pop("TINYGRAD_RNN_KEEP_FREED_MB", None)
    if value is not None:
        env["TINYGRAD_RNN_KEEP_FREED_MB"] = value
    result = subprocess.run([sys.executable, "-c", CHURN], env=env, capture_output=True, text=True, check=True)
    faults = int(result.stdout)
    if value == "0":
        assert faults > 500, faults  # glibc's defaults: these arrays are mapped afresh at first
    else:
        assert faults < 100, faults  # mapped afresh, each round would touch about 4,000 new pages


def test_environment_variable_zero_leaves_malloc_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda mb=0: calls.append(mb))
    monkeypatch.setenv("TINYGRAD_RNN_KEEP_FREED_MB", "0")
    memory._on_import()
    monkeypatch.setenv("TINYGRAD_RNN_KEEP_FREED_MB", "64")
    memory._on_import()
    assert calls == [64]
