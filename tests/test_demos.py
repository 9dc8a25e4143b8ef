"""Every demo runs in its --smoke mode, as a learner would start it, and writes under out/ of the project
folder wherever it is run from; every option in every --help has a help text and shows its default."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_rnn import cli

ROOT = Path(__file__).resolve().parent.parent
DEMOS = sorted((ROOT / "demos").glob("*.py"))


@pytest.mark.parametrize("demo", DEMOS, ids=[d.stem for d in DEMOS])
def test_demo_smoke(demo, tmp_path):
    """Run from another folder, the demo writes in out/ of its project (here a copy of demos/ in tmp_path,
    so the run leaves the real out/ alone), says where, and writes nothing where it was started."""
    shutil.copytree(ROOT / "demos", tmp_path / "project" / "demos")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, str(tmp_path / "project" / "demos" / demo.name), "--smoke"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert list(elsewhere.iterdir()) == []
    out = tmp_path / "project" / "out" / demo.stem
    if "--out" in demo.read_text(encoding="utf-8"):
        assert any(out.iterdir()), f"{demo.stem} wrote nothing in {out}"
        assert f"{out}/" in result.stdout
    else:
        assert not out.parent.exists()


# -- --help ----------------------------------------------------------------------------------------

# Options that have no default: a flag, or a value that is only used when given.
NO_DEFAULT = {"--focus", "--detail", "--elide", "--sample"}
COMMANDS = [["--help"], ["render", "--help"], ["demo", "--help"]] + [["demo", d.stem, "--help"] for d in DEMOS]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a[:-1]) or "tinygrad-rnn" for a in COMMANDS])
def test_every_option_has_help_and_shows_its_default(argv, capsys, monkeypatch):
    """`tinygrad-rnn ... --help`, run in this process: the parser that printed it tells what each option is."""
    printed = []
    print_help = argparse.ArgumentParser.print_help
    monkeypatch.setattr(argparse.ArgumentParser, "print_help", lambda self, file=None: printed.append(self))
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: nothing wrapped inside a default
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 0 and len(printed) == 1
    parser = printed[0]
    print_help(parser)
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        name = action.option_strings[-1] if action.option_strings else action.dest
        said = " ".join((action.help or "").split("%(")[0].split())  # up to a default argparse fills in
        assert said and said in text, f"{name} has no help text"
        if not action.option_strings or action.nargs == 0:  # a positional argument, a flag
            continue
        if action.default is None:
            assert "(default: " in action.help or name in NO_DEFAULT, f"{name}: say its default, e.g. for each mode"
        else:
            shown = {f"(default: {action.default})", f"(default: {action.default!r})"}
            assert any(s in text for s in shown), f"{name}: its default {action.default} is not shown"


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
