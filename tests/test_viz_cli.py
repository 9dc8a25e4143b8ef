"""`tinygrad-rnn render`, `make figures` (viz/figures.py) and the renderer's benchmark script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import cli, viz
from tinygrad_rnn.viz import figures
from tinygrad_rnn.viz.examples import unrolled_loss

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def render(tmp_path: Path, *args: str, out: str = "g.dot") -> tuple[int, str]:
    """Run `tinygrad-rnn render ARGS --out tmp/OUT` in this process; return (exit code, the .dot text)."""
    path = tmp_path / out
    code = cli.main(["render", *args, "--out", str(path)])
    return code, path.read_text(encoding="utf-8") if code == 0 and out.endswith(".dot") else ""


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole", "coupled"])
def test_render_each_cell(tmp_path, capsys, cell):
    code, source = render(tmp_path, cell, "--steps", "2")
    assert code == 0 and source.startswith("digraph")
    assert source.count('label="t = ') == 2 and "op level" in source
    assert "wrote" in capsys.readouterr().out


def test_render_options(tmp_path, capsys):
    gate = render(tmp_path, "lstm", "--level", "gate")[1]
    assert "/blues9/" in gate and "#ffd966" not in gate  # after backward: filled by gradient, with a legend
    assert 'label="A' in render(tmp_path, "lstm", "--level", "cell")[1]
    assert "×3" in render(tmp_path, "lstm", "--steps", "3", "--rolled")[1]
    assert "dir=back" in render(tmp_path, "rnn", "--backward")[1]
    assert "#d62728" in render(tmp_path, "gru", "--level", "gate", "--focus", "update_gate")[1]
    layers = render(tmp_path, "lstm", "--layers", "2", "--level", "cell")[1]
    assert 'label="layer 0"' in layers and 'label="layer 1"' in layers
    capsys.readouterr()
    code, source = render(tmp_path, "lstm", "--steps", "28")  # above 400 nodes at op level
    assert code == 0 and "gate level" in source
    assert "max_nodes=400" in capsys.readouterr().err
    assert "op level" in render(tmp_path, "lstm", "--steps", "28", "--max-nodes", "0")[1]


@pytest.mark.parametrize(
    "args",
    [
        ("lstm", "--steps", "4", "--max-nodes", "0"),
        ("lstm", "--steps", "30"),  # above 400 nodes at op level: drawn at gate level
        ("gru", "--layers", "2", "--level", "gate", "--backward"),
        ("rnn", "--steps", "9", "--level", "cell", "--elide", "2", "1"),
        ("peephole", "--rolled", "--layers", "3"),
        ("coupled", "--level", "cell", "--detail", "1", "--show-loss"),
    ],
)
def test_render_knows_the_size_of_a_drawing_before_building_it(tmp_path, capsys, monkeypatch, args):
    """The node count `render` works out from tiny models (to refuse a drawing too large for dot before
    building it) is never below the count drawn, and at most 5% above it."""
    assert render(tmp_path, *args)[0] == 0
    drawn = int(re.search(r": (\d+) nodes at", capsys.readouterr().out)[1])
    monkeypatch.setattr(cli, "MAX_DRAWN", drawn - 1)
    with pytest.raises(SystemExit):
        render(tmp_path, *args)
    about = int(re.search(r"draws about ([\d,]+) nodes", capsys.readouterr().err)[1].replace(",", ""))
    assert drawn <= about <= drawn * 1.05 + 2


@needs_dot
def test_render_image_formats(tmp_path):
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF"}
    for fmt, start in magic.items():
        assert render(tmp_path, "rnn", out=f"g.{fmt}")[0] == 0
        assert (tmp_path / f"g.{fmt}").read_bytes().startswith(start)


def test_python_m_render_without_dot(tmp_path):
    """`python -m tinygrad_rnn render` with no dot on PATH: a clear message, and the DOT text is written."""
    out = tmp_path / "lstm.svg"
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "render", "lstm", "--steps", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path)},
        cwd=ROOT,
    )
    assert result.returncode == 1 and not out.exists()
    assert "`dot` program was not found" in result.stderr and "apt-get install graphviz" in result.stderr
    assert (tmp_path / "lstm.dot").read_text(encoding="utf-8").startswith("digraph")


@needs_dot
def test_render_writes_out_render_cell_svg_by_default(tmp_path, capsys, monkeypatch):
    """Without --out, render writes CELL.svg in out/render/ of the project, wherever it runs, and says where."""
    assert cli.OUT == ROOT / "out"  # the checkout the tests run from
    monkeypatch.setattr(cli, "OUT", tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["render", "gru", "--steps", "2"]) == 0
    path = tmp_path / "out" / "render" / "gru.svg"
    assert path.read_bytes().startswith(b"<?xml")
    assert f"wrote {path}:" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["gru.svg", "out", "render"]


@needs_dot
def test_a_drawing_renders_without_leaving_its_dot_file_behind(tmp_path):
    """graphviz's own render also writes the DOT text, in a file named like the drawing without its extension."""
    loss, _ = unrolled_loss("rnn", 2)
    g = viz.draw(loss)
    assert g.render(tmp_path / "tiny", format="png") == str(tmp_path / "tiny.png")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.png"]
    assert (tmp_path / "tiny.png").read_bytes().startswith(b"\x89PNG")
    g.render(tmp_path / "kept", format="svg", cleanup=False)  # asked for: the DOT text is kept
    assert (tmp_path / "kept").read_text(encoding="utf-8") == g.source
    assert g.source == viz.to_dot(viz.view(loss)).source  # the same drawing as to_dot's


def test_demo_subcommand_still_lists_demos(capsys):
    assert cli.main(["demo"]) == 0
    assert "autograd_tour" in capsys.readouterr().out


# -- figures -------------------------------------------------------------------------------------------


def test_every_figure_builds():
    expected = {"rnn_rolled", "rnn_unrolled", "short_term_dependency", "long_term_rnn", "long_term_lstm", "lstm_chain"}
    expected |= {f"lstm_focus_{g}" for g in ("forget", "input", "cell_update", "output")}
    expected |= {"peephole", "coupled", "gru"}
    assert expected <= set(figures.FIGURES)
    for name, figure in figures.FIGURES.items():
        assert figure().source.startswith("digraph"), name


def test_long_term_dependency_figure_shows_what_it_claims():
    """Through 32 steps the gradient reaching x_0 has vanished in the RNN and not in the LSTM."""
    _, rnn_xs = unrolled_loss("rnn", figures.LONG_STEPS)
    _, lstm_xs = unrolled_loss("lstm", figures.LONG_STEPS, forget_bias=3.0)
    rnn, lstm = np.linalg.norm(rnn_xs[0].grad), np.linalg.norm(lstm_xs[0].grad)
    assert rnn < 1e-6 < 1e-3 < lstm


@needs_dot
def test_figures_main_writes_svg(tmp_path, capsys):
    assert figures.main([str(tmp_path), "--only", "rnn_rolled", "lstm_focus_forget"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm_focus_forget.svg", "rnn_rolled.svg"]
    assert (tmp_path / "rnn_rolled.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_benchmark_runs():
    """Not a timing test: only checks the benchmark script works and prints its table."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_viz.py"), "--smoke"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(f"| 3 | {level} |" in result.stdout for level in ("op", "gate", "cell"))
