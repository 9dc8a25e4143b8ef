"""The `tinygrad-rnn` command (also `python -m tinygrad_rnn`): draw a model's graph (render), list and run demos."""

from __future__ import annotations

import argparse
import runpy
import sys
import warnings
from pathlib import Path

import graphviz

from . import __version__
from .viz import LEVELS, GraphTooLargeWarning, to_dot, view
from .viz.examples import LAYERS, sequence_loss
from .viz.views import elided

DEMOS_DIR = Path(__file__).resolve().parent.parent / "demos"
RENDER_FORMATS = ("svg", "png", "pdf", "dot")


def _demo_paths() -> list[Path]:
    return sorted(DEMOS_DIR.glob("*.py")) if DEMOS_DIR.is_dir() else []


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_render(sub) -> None:
    render = sub.add_parser(
        "render",
        help="draw the graph of a small seeded model: tinygrad-rnn render lstm --steps 3 --out lstm.svg",
        description="Build a small seeded model (input 3, hidden 4, batch 1), run it forward over random "
        "inputs and backward (retain_grads=True) from an MSE loss on its last output, and draw the graph.",
    )
    render.add_argument("cell", choices=list(LAYERS), help="which recurrent layer to draw")
    render.add_argument("--steps", type=_positive, default=3, help="time steps to unroll (default 3)")
    render.add_argument("--level", choices=LEVELS, default="op", help="op, gate or cell (default op)")
    render.add_argument("--rolled", action="store_true", help="one step with loop edges instead of T steps")
    render.add_argument("--backward", action="store_true", help="number the edges in backward's order")
    render.add_argument("--focus", metavar="GATE", help="highlight one scope, e.g. forget_gate")
    render.add_argument("--layers", type=_positive, default=1, help="stacked layers (default 1)")
    render.add_argument("--max-nodes", type=int, default=400, help="coarser level above this (0: no limit)")
    render.add_argument("--detail", type=int, metavar="T", help="at cell level: draw step T inside (its gates)")
    render.add_argument(
        "--elide", type=_positive, nargs=2, metavar=("FIRST", "LAST"), help="draw only the first and last steps"
    )
    render.add_argument("--show-loss", action="store_true", help="draw the loss at cell level too")
    render.add_argument("--labels", choices=("full", "names"), default="full", help="full (default) or names only")
    render.add_argument("--direction", choices=("LR", "TB"), default="LR", help="left to right (default) or top down")
    render.add_argument("--out", required=True, type=Path, help="FILE.svg, .png, .pdf or .dot")


def _render(ns: argparse.Namespace) -> int:
    fmt = ns.out.suffix.lstrip(".").lower()
    if fmt not in RENDER_FORMATS:
        print(f"--out must end in one of .{', .'.join(RENDER_FORMATS)}; got {ns.out.name!r}", file=sys.stderr)
        return 2
    loss = sequence_loss(ns.cell, ns.steps, layers=ns.layers)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GraphTooLargeWarning)
            g = view(
                loss,
                level=ns.level,
                rolled=ns.rolled,
                backward=ns.backward,
                focus=ns.focus,
                max_nodes=ns.max_nodes or None,
                detail=ns.detail,
                elide=tuple(ns.elide) if ns.elide else None,
                show_loss=True if ns.show_loss else None,
            )
    except ValueError as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    for w in caught:
        print(f"render: {w.message}", file=sys.stderr)
    steps = f"{ns.steps} step{'s' * (ns.steps > 1)}"
    if ns.elide and elided(ns.steps, *ns.elide):
        steps += f" ({elided(ns.steps, *ns.elide)} of them as ⋯)"
    title = f"{ns.cell}, {steps}, {ns.layers} layer{'s' * (ns.layers > 1)}: {g.level} level"
    dot = to_dot(g, title=title, labels=ns.labels, direction=ns.direction)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    if fmt != "dot":
        try:
            ns.out.write_bytes(dot.pipe(format=fmt))
        except graphviz.ExecutableNotFound:
            source = ns.out.with_suffix(".dot")
            source.write_text(dot.source, encoding="utf-8")
            print(
                f"render: Graphviz's `dot` program was not found, so {ns.out} was not drawn; the graph's DOT text "
                f"is in {source}. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz), then run "
                f"`dot -T{fmt} {source} -o {ns.out}`.",
                file=sys.stderr,
            )
            return 1
    else:
        ns.out.write_text(dot.source, encoding="utf-8")
    print(f"wrote {ns.out}: {len(g.nodes)} nodes at {g.level} level")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description="tinygrad_rnn's command line")
    parser.add_argument("--version", action="version", version=f"tinygrad_rnn {__version__}")
    sub = parser.add_subparsers(dest="command")
    _add_render(sub)
    demo = sub.add_parser("demo", help="list the demos, or run one: tinygrad-rnn demo NAME [ARGS...]")
    demo.add_argument("name", nargs="?", help="a demo's file name without .py")
    demo.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the demo")
    ns = parser.parse_args(argv)

    if ns.command == "render":
        return _render(ns)
    if ns.command == "demo":
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
            print(f"unknown demo {ns.name!r}; choose one of: {', '.join(paths)}", file=sys.stderr)
            return 2
        sys.argv = [str(paths[ns.name]), *ns.args]
        runpy.run_path(str(paths[ns.name]), run_name="__main__")
        return 0
    parser.print_help()
    return 0
