"""The readability report of the engine's reading path (tinygrad_rnn/core): its size, and how tangled it is.

Cyclomatic complexity (radon) counts the paths through a function: 1, plus one for each if, loop,
boolean operator, except and comprehension condition. Goals: the backward pass (`Tensor.backward` and
the loop it runs, `_backprop`) at most 40 lines and complexity at most 10; no function in the core
above 15; the core at most 900 lines with its docstrings.
Run:  python benchmarks/complexity.py   (make complexity); exits with 1 if a goal is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit
from radon.raw import analyze

CORE = Path(__file__).resolve().parent.parent / "tinygrad_rnn" / "core"
GOALS = {"core lines": 900, "backward lines": 40, "backward complexity": 10, "largest complexity": 15}


def main() -> int:
    files = sorted(CORE.glob("*.py"))
    print("| file | lines | code | docstrings and comments | blank | functions | largest complexity |")
    print("|---|---:|---:|---:|---:|---:|---|")
    total, blocks = 0, []
    for path in files:
        text = path.read_text()
        raw = analyze(text)
        found = [b for b in cc_visit(text) if b.letter in "FM"]  # functions and methods (classes list theirs again)
        blocks += [(path.name, b) for b in found]
        worst = max(found, key=lambda b: b.complexity, default=None)
        worst_text = f"{worst.complexity} ({worst.name})" if worst else ""
        total += raw.loc
        notes = raw.comments + raw.multi
        print(f"| {path.name} | {raw.loc} | {raw.sloc} | {notes} | {raw.blank} | {len(found)} | {worst_text} |")
    print(f"| **core** | **{total}** | | | | {len(blocks)} | |")

    # The backward pass is Tensor.backward and the loop it runs, _backprop (shared with tg.grad).
    backward = [b for name, b in blocks if name == "tensor.py" and b.name in ("backward", "_backprop")]
    backward_lines = sum(b.endline - b.lineno + 1 for b in backward)
    largest = max(blocks, key=lambda nb: nb[1].complexity)
    print("\nfunctions of complexity above 5:")
    for name, b in sorted(blocks, key=lambda nb: -nb[1].complexity):
        if b.complexity > 5:
            print(f"  {b.complexity:>3}  {name}: {b.classname + '.' if b.classname else ''}{b.name}")
    measured = {
        "core lines": total,
        "backward lines": backward_lines,
        "backward complexity": max(b.complexity for b in backward),
        "largest complexity": largest[1].complexity,
    }
    print("\ngoals:")
    missed = 0
    for what, limit in GOALS.items():
        ok = measured[what] <= limit
        missed += not ok
        print(f"  {what}: {measured[what]} (goal <= {limit}): {'yes' if ok else 'no'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
