"""The `tinygrad-rnn` command (also `python -m tinygrad_rnn`): list and run the demos."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from . import __version__

DEMOS_DIR = Path(__file__).resolve().parent.parent / "demos"


def _demo_paths() -> list[Path]:
    return sorted(DEMOS_DIR.glob("*.py")) if DEMOS_DIR.is_dir() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description="tinygrad_rnn's command line")
    parser.add_argument("--version", action="version", version=f"tinygrad_rnn {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="list the demos, or run one: tinygrad-rnn demo NAME [ARGS...]")
    demo.add_argument("name", nargs="?", help="a demo's file name without .py")
    demo.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the demo")
    ns = parser.parse_args(argv)

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
