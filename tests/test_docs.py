"""Every fenced Python block in README.md and docs/ runs, in order, one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for k, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8"))):
        try:
            exec(compile(code, f"{page.name}[block {k}]", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}, python block {k} failed: {err!r}\n{code}") from err


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)")  # [text](target) and ![alt](target), without #anchors


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_and_images_exist(page):
    text = BLOCK.sub("", page.read_text(encoding="utf-8"))  # links inside code blocks are not links
    targets = [t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


# A page quotes the source in a block fenced ```py right after a marker naming the file:
#     <!-- quoted from tinygrad_rnn/nn/recurrent.py -->
# Such a block is not run (test_python_blocks_run runs the ```python blocks): each of its lines, stripped, must be
# a line of that file, so the page shows the code as it is.
QUOTE = re.compile(r"^<!-- quoted from (\S+) -->\n```py\n(.*?)^```", re.S | re.M)


def quotes_not_in_the_source(text: str) -> list[str]:
    """'path: line' for every quoted line that is not a line of its file, and a note for every marker
    without its ```py block and every ```py block without its marker."""
    quotes = QUOTE.findall(text)
    markers, blocks = text.count("<!-- quoted from "), len(re.findall(r"^```py\n", text, re.M))
    wrong = []
    if not markers == blocks == len(quotes):
        wrong.append(f"{markers} quote markers and {blocks} ```py blocks, of which {len(quotes)} go together")
    for path, block in quotes:
        source = {line.strip() for line in (ROOT / path).read_text(encoding="utf-8").splitlines()}
        wrong += [f"{path}: {line.strip()}" for line in block.splitlines() if line.strip() not in source]
    return wrong


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_quoted_lines_are_in_the_source(page):
    wrong = quotes_not_in_the_source(page.read_text(encoding="utf-8"))
    assert not wrong, f"{page.relative_to(ROOT)} quotes lines its source does not have:\n" + "\n".join(wrong)


@pytest.mark.parametrize("page", ["docs/lstm.md", "docs/variants.md"])
def test_the_cell_pages_quote_the_cells_steps(page):
    quoted = [path for path, _ in QUOTE.findall((ROOT / page).read_text(encoding="utf-8"))]
    assert quoted and set(quoted) == {"tinygrad_rnn/nn/recurrent.py"}


def test_a_quote_that_is_not_in_the_source_is_caught():
    marker = "<!-- quoted from tinygrad_rnn/nn/recurrent.py -->\n"
    real = 'f_t = self.scoped("f", lambda: pre_f.sigmoid())  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)'
    assert not quotes_not_in_the_source(f"{marker}```py\n    {real}\n```\n")
    assert quotes_not_in_the_source(f"{marker}```py\nf_t = pre_f.sigmoid()\n```\n")
    assert quotes_not_in_the_source(f"{marker}```python\n{real}\n```\n")  # the marker without its ```py block
    assert quotes_not_in_the_source(f"```py\n{real}\n```\n")  # a ```py block without its marker
