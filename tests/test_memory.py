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


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match="megabytes must be >= 0"):
        memory.keep_freed_memory(-1)


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


def test_environment_variable_must_be_a_number():
    env = dict(os.environ, TINYGRAD_RNN_KEEP_FREED_MB="lots")
    result = subprocess.run([sys.executable, "-c", "import tinygrad_rnn"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "TINYGRAD_RNN_KEEP_FREED_MB must be a whole number of MB, got 'lots'" in result.stderr


def test_environment_variable_zero_leaves_malloc_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda mb=0: calls.append(mb))
    monkeypatch.setenv("TINYGRAD_RNN_KEEP_FREED_MB", "0")
    memory._on_import()
    monkeypatch.setenv("TINYGRAD_RNN_KEEP_FREED_MB", "64")
    memory._on_import()
    assert calls == [64]
