"""speed/malloc.py: freed memory stays in the process between training steps, when asked to (glibc only);
importing tinygrad_rnn leaves malloc alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinygrad_rnn.speed import malloc

glibc = pytest.mark.skipif(not malloc._glibc(), reason="mallopt is glibc's; elsewhere nothing is changed")


@pytest.mark.parametrize("megabytes", [-1, 0, 2048])
def test_size_out_of_range_is_refused(megabytes):
    with pytest.raises(ValueError, match=f"megabytes must be between 1 and 2047, got {megabytes}"):
        malloc.keep_freed_memory(megabytes)


CHURN = """
import resource, sys
import numpy as np
import tinygrad_rnn
if sys.argv[1] == "keep":
    assert tinygrad_rnn.speed.keep_freed_memory() is True

def churn():
    big = np.empty(13_000_000 // 4, np.float32)  # 13 MB, as an LSTM's gate gradients at H=512
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
@pytest.mark.parametrize("how", ["import only", "keep"])
def test_freed_arrays_come_back_from_the_heap_only_when_asked(how):
    """Arrays of a few MB, allocated and freed again and again, come back from the heap once asked for.
    Setting glibc's trim threshold alone would switch off its own raising of the mmap threshold, so
    every array above 128 KB was mapped afresh (a hand-written numpy LSTM at H=512 went from 7,000 page
    faults a step to 46,000): the call sets both. Importing tinygrad_rnn alone changes nothing."""
    arg = "keep" if how == "keep" else "no"
    result = subprocess.run([sys.executable, "-c", CHURN, arg], capture_output=True, text=True, check=True)
    faults = int(result.stdout)
    if how == "keep":
        assert faults < 100, faults  # mapped afresh, each round would touch about 4,000 new pages
    else:
        assert faults > 500, faults  # glibc's defaults: these arrays are mapped afresh at first


def test_importing_loads_nothing_a_drawing_or_the_corpus_needs():
    """graphviz (drawings), ctypes (this lesson), ast and tokenize (the corpus reader) load when used, not on
    import: what `import tinygrad_rnn` loads beyond what numpy itself loads contains none of them."""
    code = "import sys, numpy; before = set(sys.modules); import tinygrad_rnn; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # a printed list of module names
    assert not [m for m in loaded if m.split(".")[0] in ("graphviz", "ctypes", "ast", "tokenize", "sysconfig")], loaded
