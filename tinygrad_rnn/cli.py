"""The `tinygrad-rnn` command (also `python -m tinygrad_rnn`): draw a model's graph (render), write a page to click
through its forward and backward pass (explore), list and run demos.

Unless given --out, it writes under OUT, the out/ folder of the checkout the package runs from, wherever the
command is run: `render` writes out/render/CELL.svg, `explore` out/explore/CELL.html, and the demos (which find
their checkout from their own file) out/DEMO/. Every --help shows each option's default (`HelpFormatter`, which
the demos use too).

A bad argument ends the command at once with argparse's error (the usage, then one line
`tinygrad-rnn render: error: ...`) and exit status 2, before any slow work: a count below 1, an
`--out` that cannot be written, a drawing too large for Graphviz. The demos share the checks here
(`positive_int`, `non_negative_int`, `positive_float`, `writable_dir`).
"""

from __future__ import annotations

import argparse
import itertools
import math
import runpy
import sys
import tempfile
import warnings
from pathlib import Path

from . import __version__
from .viz import LEVELS, Graph, GraphTooLargeWarning, to_dot, trace, view
from .viz.examples import LAYERS, sequence_loss
from .viz.views import elided

ROOT = Path(__file__).resolve().parent.parent  # the checkout, when the package runs from one (pip install -e)
DEMOS_DIR = ROOT / "demos"
# An installed package without its checkout has no project folder: it writes in the current folder's out/.
OUT = ROOT / "out" if DEMOS_DIR.is_dir() else Path("out")
RENDER_FORMATS = ("svg", "png", "pdf", "dot")
# Measured with dot 2.43 on 2 cores: an LSTM's cell level (the slowest to lay out) takes 10 s at 2,100 nodes and
# 40 s at 3,000; at 6,000 dot ran for over 10 minutes, at 30,000 it aborted.
MAX_DRAWN = 2_000
# The graph a drawing is made from (all the steps, even those --elide leaves out): the cell level's views take
# 3 s at 12,000 nodes and 5 s at 17,000, growing faster than the size.
MAX_TRACED = 20_000
# An explorer page holds every op's numbers, and a click per op to step through. Measured: an LSTM over 20 steps
# (252 ops, drawn at op level) 0.73 MB; over 200 steps (2,412 ops, cell level) 4.1 MB; over 400, 7.4 MB.
MAX_EXPLORED = 5_000


# -- argument checks and --help, shared with the demos ----------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help that ends each option's help with its default, "(default: 3)", except where there is none to show
    (a flag, or None) or the help already states it (a default that depends on the mode, say)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def mode_defaults(modes: dict[str, dict], key: str) -> str:
    """A default that depends on the mode, for a help text: "(default: 800; --full: 3000; --smoke: 4)".
    modes: each mode's settings by its flag's name, the default mode first; a mode that agrees with it is left out."""
    said = {}
    for mode, settings in modes.items():
        value = settings[key]
        said[mode] = " ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    first, *others = said
    return f"(default: {said[first]}" + "".join(f"; --{m}: {said[m]}" for m in others if said[m] != said[first]) + ")"


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number, at least 1 (a count of steps, layers, seeds, ...)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: a whole number, at least 0 (a seed; a limit where 0 means none)."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (a learning rate, a temperature)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def writable_dir(parser: argparse.ArgumentParser, path: Path) -> Path:
    """Make the folder `path` (an --out) if need be and check that a file can be written in it, else exit
    through parser.error: a run that could not save its results stops at its start, not at its end."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        file = next((p for p in reversed((path, *path.parents)) if p.exists() and not p.is_dir()), None)
        if file is not None:
            parser.error(f"--out: {file} is a file, not a folder")
        parser.error(f"--out: cannot write in {path}: {err.strerror or err}")
    return path


# -- render ----------------------------------------------------------------------------------------


def _add_render(sub) -> argparse.ArgumentParser:
    render = sub.add_parser(
        "render",
        help="draw the graph of a small seeded model: tinygrad-rnn render lstm --steps 3 --out lstm.svg",
        formatter_class=HelpFormatter,
        description="Build a small seeded model (input 3, hidden 4, batch 1), run it forward over random "
        "inputs and backward (retain_grads=True) from an MSE loss on its last output, and draw the graph. "
        f"At most {MAX_DRAWN:,} nodes are drawn: beyond that Graphviz's dot takes minutes or fails.",
    )
    render.add_argument("cell", choices=list(LAYERS), help="which recurrent layer to draw")
    render.add_argument("--steps", type=positive_int, default=3, help="time steps to unroll")
    render.add_argument(
        "--level", choices=LEVELS, default="op", help="op: every primitive; gate: a box per gate; cell: a box per step"
    )
    render.add_argument("--rolled", action="store_true", help="one step with loop edges instead of T steps")
    render.add_argument("--backward", action="store_true", help="number the edges in backward's order")
    render.add_argument("--focus", metavar="GATE", help="highlight one scope, e.g. forget_gate")
    render.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    render.add_argument(
        "--max-nodes", type=non_negative_int, default=400, help="draw a coarser level above this many nodes (0: never)"
    )
    render.add_argument("--detail", type=int, metavar="T", help="at cell level: draw step T inside (its gates)")
    render.add_argument(
        "--elide", type=positive_int, nargs=2, metavar=("FIRST", "LAST"), help="draw only the first and last steps"
    )
    render.add_argument("--show-loss", action="store_true", help="draw the loss at cell level too")
    render.add_argument(
        "--labels",
        choices=("full", "names"),
        default="full",
        help="full: name, op, shape, values, gradient; names: names only",
    )
    render.add_argument("--direction", choices=("LR", "TB"), default="LR", help="left to right, or top to bottom")
    out = str(OUT / "render" / "CELL.svg").replace("%", "%%")  # argparse %-formats help texts
    render.add_argument("--out", type=Path, help=f"FILE.svg, .png, .pdf or .dot (default: {out})")
    return render


def _view(ns: argparse.Namespace, loss, level: str, max_nodes: int | None) -> Graph:
    return view(
        loss,
        level=level,
        rolled=ns.rolled,
        backward=ns.backward,
        focus=ns.focus,
        max_nodes=max_nodes,
        detail=ns.detail,
        elide=tuple(ns.elide) if ns.elide else None,
        show_loss=True if ns.show_loss else None,
    )


def _check_size(
    parser: argparse.ArgumentParser,
    ns: argparse.Namespace,
    max_traced: int = MAX_TRACED,
    handles: str = "the renderer handles in seconds",
) -> None:
    """Refuse a drawing too large to build or lay out (a graph of more than max_traced nodes, of which the
    message says what `handles` them), before building it.

    Node counts grow linearly with the layers, and from 2 steps on with the steps, so six tiny models
    (1, 2 and 3 steps; 1 and 2 layers) drawn the same way give the counts for any size.
    """
    levels = LEVELS[LEVELS.index(ns.level) :]
    small = argparse.Namespace(**{**vars(ns), "focus": None, "detail": None if ns.detail is None else -1})
    probe: dict[tuple[int, int], dict[str, int]] = {}
    for steps, layers in itertools.product((1, 2, 3), (1, 2)):
        loss = sequence_loss(ns.cell, steps, layers=layers)
        probe[steps, layers] = {"traced": len(trace(loss).nodes)}
        probe[steps, layers] |= {lvl: len(_view(small, loss, lvl, None).nodes) for lvl in levels}

    def about(key: str, steps: int, layers: int) -> int:
        at = {t: probe[t, 1][key] + (probe[t, 2][key] - probe[t, 1][key]) * (layers - 1) for t in (1, 2, 3)}
        return at[1] if steps == 1 else at[2] + (at[3] - at[2]) * (steps - 2)

    def fewer(key: str, limit: int, steps: int) -> str:
        """The most steps (else layers) that stay within limit."""
        per_step = about(key, 3, ns.layers) - about(key, 2, ns.layers)
        most = 2 + (limit - about(key, 2, ns.layers)) // per_step if per_step > 0 else 0
        if most >= 2:
            return f"--steps {most:,} or fewer"
        if about(key, 1, ns.layers) <= limit:
            return "--steps 1"
        most = 1 + (limit - about(key, steps, 1)) // (about(key, steps, 2) - about(key, steps, 1))
        return f"--layers {most:,} or fewer" if most >= 1 else "fewer steps and layers"

    model = f"{ns.cell} over {ns.steps:,} steps" + (f" and {ns.layers:,} layers" if ns.layers > 1 else "")
    traced = about("traced", ns.steps, ns.layers)
    if traced > max_traced:
        parser.error(
            f"{model} is a graph of about {traced:,} nodes, more than the {max_traced:,} {handles}: "
            f"use {fewer('traced', max_traced, ns.steps)}"
        )
    hidden = elided(ns.steps, *ns.elide) if ns.elide else 0  # drawn as one "⋯" per layer
    drawn = {lvl: about(lvl, ns.steps - hidden, ns.layers) + (ns.layers if hidden else 0) for lvl in levels}
    level = next((lvl for lvl in levels if not ns.max_nodes or drawn[lvl] <= ns.max_nodes), levels[-1])
    if drawn[level] > MAX_DRAWN:
        coarser = [lvl for lvl in levels[levels.index(level) + 1 :] if drawn[lvl] <= MAX_DRAWN]
        fixes = [f"--level {lvl} (about {drawn[lvl]:,} nodes)" for lvl in coarser[:1]]
        fixes += ["a smaller --elide"] if hidden else [fewer(level, MAX_DRAWN, ns.steps)]
        fixes += [] if hidden or ns.rolled or ns.command != "render" else ["--elide FIRST LAST", "--rolled"]
        parser.error(
            f"{model} draws about {drawn[level]:,} nodes at {level} level, more than the {MAX_DRAWN:,} Graphviz's "
            f"dot lays out in reasonable time (beyond that it takes minutes or aborts): use "
            + (f"{', '.join(fixes[:-1])} or {fixes[-1]}" if len(fixes) > 1 else fixes[0])
        )


def _write(parser: argparse.ArgumentParser, path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as err:
        parser.error(f"--out: cannot write {path}: {err.strerror or err}")


def _render(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> int:
    import graphviz  # here, not with the command: only drawings need it

    if ns.out is None:
        ns.out = OUT / "render" / f"{ns.cell}.svg"
    fmt = ns.out.suffix.lstrip(".").lower()
    if ns.out.is_dir():
        parser.error(f"--out: {ns.out} is a folder; give a file name, e.g. {ns.out / f'{ns.cell}.svg'}")
    if fmt not in RENDER_FORMATS:
        parser.error(f"--out must end in .{', .'.join(RENDER_FORMATS)}; got {ns.out.name!r}")
    try:
        _check_size(parser, ns)
        writable_dir(parser, ns.out.parent)
        loss = sequence_loss(ns.cell, ns.steps, layers=ns.layers)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GraphTooLargeWarning)
            g = _view(ns, loss, ns.level, ns.max_nodes or None)
    except ValueError as err:
        parser.error(str(err))
    for w in caught:
        print(f"render: {w.message}", file=sys.stderr)
    steps = f"{ns.steps} step{'s' * (ns.steps > 1)}"
    if ns.elide and elided(ns.steps, *ns.elide):
        steps += f" ({elided(ns.steps, *ns.elide)} of them as ⋯)"
    title = f"{ns.cell}, {steps}, {ns.layers} layer{'s' * (ns.layers > 1)}: {g.level} level"
    dot = to_dot(g, title=title, labels=ns.labels, direction=ns.direction)
    if fmt == "dot":
        _write(parser, ns.out, dot.source.encode("utf-8"))
    else:
        try:
            image = dot.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            source = ns.out.with_suffix(".dot")
            _write(parser, source, dot.source.encode("utf-8"))
            print(
                f"render: Graphviz's `dot` program was not found, so {ns.out} was not drawn; the graph's DOT text "
                f"is in {source}. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz), then run "
                f"`dot -T{fmt} {source} -o {ns.out}`.",
                file=sys.stderr,
            )
            return 1
        except graphviz.CalledProcessError as err:  # not an argument's fault: dot itself failed
            said = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines() or ["(no message)"]
            print(f"render: Graphviz's dot failed (exit status {err.returncode}): {said[-1]}", file=sys.stderr)
            return 1
        _write(parser, ns.out, image)
    print(f"wrote {ns.out}: {len(g.nodes)} nodes at {g.level} level")
    return 0


# -- explore ---------------------------------------------------------------------------------------


def _add_explore(sub) -> argparse.ArgumentParser:
    explore = sub.add_parser(
        "explore",
        help="write a page to click through a small seeded model's forward and backward pass: "
        "tinygrad-rnn explore lstm --steps 5 --out lstm.html",
        formatter_class=HelpFormatter,
        description="Build a small seeded model (as render does), run it forward and backward, and write one HTML "
        "file that steps through both passes on the drawing of its graph, with every value and gradient. The file "
        "needs nothing else: open it in a browser, from disk.",
    )
    explore.add_argument("cell", choices=list(LAYERS), help="which recurrent layer to explore")
    explore.add_argument("--steps", type=positive_int, default=5, help="time steps to unroll")
    explore.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    explore.add_argument("--level", choices=LEVELS, default="op", help="how the graph is drawn (the steps are ops)")
    explore.add_argument(
        "--max-nodes", type=non_negative_int, default=400, help="draw a coarser level above this many nodes (0: never)"
    )
    out = str(OUT / "explore" / "CELL.html").replace("%", "%%")
    explore.add_argument("--out", type=Path, help=f"FILE.html (default: {out})")
    # what _check_size and _view read, fixed for the explorer: every step, the loss drawn too
    explore.set_defaults(rolled=False, backward=False, focus=None, detail=None, elide=None, show_loss=True)
    return explore


def _explore(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> int:
    from .viz.explore import example_loss, explore

    if ns.out is None:
        ns.out = OUT / "explore" / f"{ns.cell}.html"
    if ns.out.is_dir():
        parser.error(f"--out: {ns.out} is a folder; give a file name, e.g. {ns.out / f'{ns.cell}.html'}")
    if ns.out.suffix.lower() != ".html":
        parser.error(f"--out must end in .html; got {ns.out.name!r}")
    _check_size(parser, ns, MAX_EXPLORED, "an explorer page holds")
    writable_dir(parser, ns.out.parent)
    loss = example_loss(ns.cell, ns.steps, layers=ns.layers)
    steps = f"{ns.steps} step{'s' * (ns.steps > 1)}, {ns.layers} layer{'s' * (ns.layers > 1)}"
    with warnings.catch_warnings(record=True) as caught:  # a coarser level, or no drawing without dot: said below
        warnings.simplefilter("always")
        page = explore(loss, level=ns.level, max_nodes=ns.max_nodes or None, title=f"{ns.cell}, {steps}")
    for w in caught:
        print(f"explore: {w.message}", file=sys.stderr)
    _write(parser, ns.out, page.html.encode("utf-8"))
    size = ns.out.stat().st_size / 1e6
    print(f"wrote {ns.out}: {len(page.data['forward'])} ops, drawn at {page.data['level']} level, {size:.2f} MB")
    print(f"open it in a browser: {ns.out.resolve().as_uri()}")
    return 0


# -- demo ------------------------------------------------------------------------------------------


def _demo_paths() -> list[Path]:
    return sorted(DEMOS_DIR.glob("*.py")) if DEMOS_DIR.is_dir() else []


def _demo(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> int:
    paths = {p.stem: p for p in _demo_paths()}
    if not paths:
        print("no demos found: they live in the demos/ folder of a source checkout", file=sys.stderr)
        return 1
    if ns.name is None:
        for name, path in paths.items():
            doc = path.read_text(encoding="utf-8").split('"""')
            first = doc[1].strip().splitlines()[0] if len(doc) > 2 else ""
            print(f"{name:24s} {first}")
        return 0
    if ns.name not in paths:
        parser.error(f"unknown demo {ns.name!r}; choose one of: {', '.join(paths)}")
    argv, sys.argv = sys.argv, [str(paths[ns.name]), *ns.args]  # the demo reads its arguments from sys.argv
    try:
        runpy.run_path(str(paths[ns.name]), run_name="__main__")
    finally:
        sys.argv = argv
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tinygrad-rnn", description="tinygrad_rnn's command line", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"tinygrad_rnn {__version__}")
    sub = parser.add_subparsers(dest="command", help="each has its own --help")
    render = _add_render(sub)
    explore = _add_explore(sub)
    demo = sub.add_parser(
        "demo",
        help="list the demos, or run one: tinygrad-rnn demo NAME [ARGS...]",
        description="Without NAME: list the demos. With it: run demos/NAME.py with ARGS (its own --help lists "
        "them). A demo writes under out/NAME/ of the project folder unless given --out.",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("name", nargs="?", help="a demo's file name without .py")
    demo.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the demo, e.g. --smoke or --help")
    ns = parser.parse_args(argv)
    if ns.command == "render":
        return _render(render, ns)
    if ns.command == "explore":
        return _explore(explore, ns)
    if ns.command == "demo":
        return _demo(demo, ns)
    parser.print_help()
    return 0
