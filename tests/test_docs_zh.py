"""The Chinese tutorial (docs/zh/): every page of the English tutorial has its Chinese page, every
link resolves, a link to an English-only page says so, and each concept has one Chinese name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
ZH = DOCS / "zh"
TUTORIAL = ["index", "autograd", "rnn", "long-term-dependencies", "lstm", "variants", "visualizing"]
REFERENCE = ["api", "benchmarks", "speed"]  # English only: docs/zh/reference.md points to them
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
# One term per concept (docs/zh/glossary.md): the names below are the other translations, not used.
OTHER_NAMES = {
    "细胞": "记忆元",
    "激活前的值": "预激活值",
    "时间步": "时间点",
}


def zh_pages() -> list[Path]:
    return sorted(ZH.glob("*.md"))


@pytest.mark.parametrize("page", TUTORIAL + ["glossary", "reference"])
def test_every_tutorial_page_has_its_chinese_page(page):
    assert (ZH / f"{page}.md").is_file(), f"docs/zh/{page}.md is missing"


def test_the_reference_page_points_to_the_english_reference():
    text = (ZH / "reference.md").read_text(encoding="utf-8")
    for page in REFERENCE:
        assert f"../{page}.md" in text, f"docs/zh/reference.md does not link to ../{page}.md"


@pytest.mark.parametrize("path", zh_pages(), ids=lambda p: p.name)
def test_links_resolve_and_english_pages_are_marked(path):
    text = path.read_text(encoding="utf-8")
    for line_no, line in enumerate(text.splitlines(), 1):
        for label, target in LINK.findall(line):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor on this page
            file = (path.parent / target.split("#")[0]).resolve()
            assert file.exists(), f"{path.name}:{line_no}: the link {target!r} goes nowhere"
            if file.suffix == ".md" and file.parent == DOCS:
                assert "英文" in label or "英文" in line, (
                    f"{path.name}:{line_no}: the link {target!r} leads to an English page without saying so (（英文）)"
                )


@pytest.mark.parametrize("path", zh_pages(), ids=lambda p: p.name)
def test_one_chinese_name_per_concept(path):
    if path.name == "glossary.md":  # the glossary names the other translations, to say they are not used
        return
    text = path.read_text(encoding="utf-8")
    for other, ours in OTHER_NAMES.items():
        assert other not in text, f"{path.name} writes {other!r}; the tutorial's term is {ours!r} (glossary.md)"
    for match in re.finditer("流利的", text):
        assert text[max(0, match.start() - 5) : match.start()] == "我能说一口", (
            f"{path.name}: 'I speak fluent' is translated as 我能说一口流利的 throughout"
        )


def test_the_article_is_credited():
    index = (ZH / "index.md").read_text(encoding="utf-8")
    assert "Understanding LSTM Networks" in index and "理解 LSTM 网络" in index and "Olah" in index
