"""Data for the demos and tests, made on the spot: synthetic sequence tasks and a text corpus.

Nothing is downloaded. The tasks are the classic tests of memory over time; the corpus is the
docstrings of Python's own standard library, read from its source files.

- `recall_batch`: a key token, then random fillers; the answer is the key (a gap of `steps` - 1).
- `adding_batch`: Hochreiter & Schmidhuber's adding problem (sum the two marked values).
- `stdlib_docstrings`: about 1.8 million characters of English prose about code (Python 3.11).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
ADDING_BASELINE = 1 / 6  # MSE of always answering 1: Var(u1 + u2) for independent u1, u2 ~ U(0, 1)


def recall_batch(
    rng: np.random.Generator, n: int, steps: int, keys: int = 4, fillers: int = 4, batch_first: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """n one-hot sequences of `steps` tokens: a key (one of `keys`) first, then random filler tokens.

    Returns the inputs, float32 of shape (n, steps, keys + fillers) (or (steps, n, ...) with
    batch_first=False), and the keys (n,). A model that answers the key at the last step has
    carried it across steps - 1 fillers; guessing gives 1 / keys.
    """
    tokens = rng.integers(keys, keys + fillers, size=(n, steps))
    answers = rng.integers(0, keys, size=n)
    tokens[:, 0] = answers
    x = np.eye(keys + fillers, dtype=np.float32)[tokens]
    return (x if batch_first else x.transpose(1, 0, 2)), answers


def adding_batch(rng: np.random.Generator, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of `length` (value, marker) pairs: inputs (n, length, 2) and targets (n,), float32."""
    values = rng.uniform(0.0, 1.0, size=(n, length)).astype(np.float32)
    half = length // 2
    first = rng.integers(0, half, size=n)  # one marker somewhere in the first half ...
    second = rng.integers(half, length, size=n)  # ... and one in the second half
    markers = np.zeros((n, length), dtype=np.float32)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    targets = values[np.arange(n), first] + values[np.arange(n), second]
    return np.stack([values, markers], axis=-1), targets


def python_files(root: Path) -> list[Path]:
    """The .py files under `root` in a fixed order (directories walked top-down, names sorted), tests skipped."""
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)  # in place: os.walk only enters these
        files += [Path(directory, name) for name in sorted(names) if name.endswith(".py")]
    return files


def stdlib_docstrings(max_chars: int) -> str:
    """The docstrings of the standard library's modules, classes and functions: the first `max_chars` characters.

    The .py files of the standard library (`sysconfig`'s "stdlib" directory, test packages skipped) are
    read in `python_files` order and parsed with `ast`, so no module is imported or run. Each file gives
    its docstrings in `ast.walk` order (module, then classes and functions, outer before inner), each
    cleaned by `ast.get_docstring` (common indentation removed), tabs expanded, and kept to printable
    ASCII and newlines (a few docstrings hold other characters; dropping them keeps the vocabulary
    small). Docstrings are joined by a blank line and the text is cut at `max_chars`. Nothing depends
    on time, hashing or the file system's order: the same Python installation always gives the same
    text, and a smaller cap gives a prefix of a larger one.
    """
    import ast  # the corpus reader's modules, loaded only when the corpus is read
    import sysconfig
    import tokenize

    root = Path(sysconfig.get_paths()["stdlib"])
    docs, size = [], 0
    for path in python_files(root):
        try:
            with tokenize.open(path) as f:  # honours the file's coding declaration
                tree = ast.parse(f.read())
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a few files are templates or deliberately broken
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                doc = "".join(ch for ch in (doc or "").expandtabs(4) if ch == "\n" or " " <= ch <= "~").strip()
                if doc:
                    docs.append(doc)
                    size += len(doc) + 2
                    if size >= max_chars:
                        return "\n\n".join(docs)[:max_chars]
    return "\n\n".join(docs)
