"""Every demo runs in its --smoke mode, as a learner would start it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = sorted((ROOT / "demos").glob("*.py"))


@pytest.mark.parametrize("demo", DEMOS, ids=[d.stem for d in DEMOS])
def test_demo_smoke(demo, tmp_path):
    result = subprocess.run(
        [sys.executable, str(demo), "--smoke"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_autograd_tour_agrees_with_backward_and_gradcheck():
    out = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "autograd_tour.py")], capture_output=True, text=True, timeout=120
    ).stdout
    assert "loss.backward() gives the same numbers" in out
    assert "gradcheck against central finite differences: passed" in out
    assert out.count("step ") == 11  # one per node: matmul, add, split, tanh, sigmoid, four muls and adds, two sums
    assert "matmul   rule: y = a @ b;  da = dy @ b.T;  db = a.T @ dy" in out  # a matmul, by the op's own backward
    assert "arrives   dL/da" in out and "arrives   dL/dc" in out  # a split: one gradient per piece


def test_overhead_benchmark_runs():
    """Not a timing test: only checks the benchmark script works (it prints a table and the chain line)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_overhead.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "| tinygrad_rnn |" in result.stdout and "chain of 1,000 ops" in result.stdout


def test_cli_lists_and_runs_demos():
    listing = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "demo"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert listing.returncode == 0 and "autograd_tour" in listing.stdout
    run = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "demo", "autograd_tour", "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0 and "passed" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "demo", "nope"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert bad.returncode == 2 and "unknown demo" in bad.stderr
