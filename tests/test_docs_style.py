"""Pages state results, not history: README.md, docs/*.md and docs/zh/*.md say what is true of the code.

Who measured what when, what a reviewer found, what an earlier version did, what an issue asked: git
keeps that. Each pattern below is one way history slips into a page, narrow enough to leave the same
words alone where they mean something else ("the state before the step", "the previous page", "a
later decision", "the weights used to compute the gates").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "zh").glob("*.md"))]

_EVENT = r"(?:session|review|commit|revision|version|rewrite|refactor(?:ing)?|change|fix|PR|pull request)"
_UNIT = r"(?:x|%|ms|µs|MB|GB)"
_PASSIVE = r"(?<!\bis )(?<!\bare )(?<!\bbe )(?<!\bbeen )(?<!\bbeing )(?<!\bwas )(?<!\bwere )(?<!\bget )(?<!\bgets )"
_NAMED_FOR = (  # "the seed used to generate the data": a thing named by what it is for, not a past habit
    r"(?:compute|build|make|run|draw|check|train|measure|generate|produce|test|store|hold|create|initiali[sz]e"
    r"|evaluate|predict|render|find|call|represent|denote|mark|label|name|select|choose|pick|seed|scale|weight"
    r"|sum|fill|pad|index|split|join|start|stop)\b"
)
HISTORY = [
    # a later session, the previous version, this session, two sessions ago
    rf"\b(?:a|an|the|this|that|one|another) (?:later|earlier|previous|prior|last|next) {_EVENT}s?\b",
    r"(?<!jupyter )(?<!interactive )(?<!training )(?<!python )(?<!ipython )(?<!shell )(?<!notebook )"
    r"(?<!terminal )\bsessions?\b",
    r"\b(?:this|that) (?:change|commit|revision|rewrite|refactor(?:ing)?|fix|PR|pull request)\b",
    r"\bago\b",
    # before this change, the session before, 1.13x before it, against 1.05x after
    rf"\b(?:before|after|since|until) (?:this|that|the|our) {_EVENT}\b",
    r"\bthe (?:session|review|change|rewrite|measurement|version|commit|run|fix) before\b",
    r"\bthan (?:before|previously|it was)\b",
    rf"\d\s*{_UNIT}\s*(?:before|after)(?: it)?\b(?!\s+(?:the|a|an|each|every|its|it runs|clipping|training)\b)",
    r"\bbefore it, against\b",
    r"(?:^|[.!?]\s+)(?:before(?: it)?|until then),\s",
    r"\bbefore it was (?:kept|merged|committed|changed)\b",
    r"\bwhat changed:",
    # a reviewer measured, the issue asks, issue 17
    r"\breviewers?\b",
    r"\bthe issue (?:asks|asked|says|said|wants|wanted|requires|required|requests|requested)\b",
    r"\b(?:issue|PR|pull request) #?\d+\b",
    # with another data seed we have seen ..., we changed
    r"\bwe (?:have|had) (?:seen|observed|measured|found)\b",
    r"\bwe (?:once|previously|earlier|originally)\b",
    r"\bwe (?:changed|switched|replaced|removed|rewrote|reverted|renamed|dropped|fixed|tried)\b",
    # earlier measurements, an earlier state of the same code, the old code, today's runs
    r"\b(?:earlier|previous|prior|older) (?:measurements?|runs of (?:this|the) (?:benchmark|demo)s?)\b",
    r"\b(?:slightly )?earlier state of (?:the )?(?:same )?(?:code|engine)\b|\bslightly earlier state\b",
    r"\b(?:earlier|later) (?:the same|that|this) day\b",
    r"\btoday's (?:runs?|numbers|measurements?|results)\b",
    r"\bthe old (?:code|engine|version|implementation|behaviou?r|design|way|wording|numbers|page)\b",
    # previously, used to, is now, any more, was: ...
    r"\bpreviously\b",
    rf"{_PASSIVE}\bused to (?!{_NAMED_FOR})",
    r"\b(?:is|are|was|were|has|have) now\b",
    r"\bnow (?!its\b|this\b|thus\b|us\b|as\b|less\b|yes\b)[a-z]+s\b",
    r"\banymore\b",
    r"\bany more(?=\s*[.,;:)]|\s*$)",
    r"\bwas:(?=\s|$)|\(was\b",
    # when it was measured: a date in running text (a benchmark's machine record, "date: ...", is data)
    r"\b(?:on|since|until|as of) (?:19|20)\d\d-\d\d(?:-\d\d)?\b",
    # the same in Chinese
    r"审阅者|审稿人|评审(?:者|人员|意见)",
    r"(?:这次|本次|上次|上一次|之前的|后来的|下一次)会话",
    r"(?:此前|之前|以前|先前|早先|上次)(?:测得|的测量|的版本|的实现|的代码)",
    r"(?:这次|本次|上次)(?:修改|改动|提交)",
    r"issue\s*(?:要求|提到|说)",
    r"曾经是|过去是|原先是",
    r"现在(?:已经)?(?:改为|改成)",
]
PATTERN = re.compile("|".join(f"(?:{p})" for p in HISTORY), re.IGNORECASE | re.MULTILINE)


def history(text: str) -> list[tuple[int, str]]:
    """(line number, the phrase) for every history phrase in text."""
    return [(text.count("\n", 0, m.start()) + 1, m.group()) for m in PATTERN.finditer(text)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_pages_state_results_not_history(page):
    text = page.read_text(encoding="utf-8")
    found = history(text)
    lines = text.splitlines()
    where = "\n".join(f"  {page.relative_to(ROOT)}:{n}: {phrase!r} in: {lines[n - 1].strip()}" for n, phrase in found)
    assert not found, f"pages state results; git keeps history. Rephrase:\n{where}"


@pytest.mark.parametrize(
    "sentence",
    [
        "A later session measured 1.2x.",
        "The run before gave 0.9.",
        "Before this change the loop was recursive.",
        "A reviewer measured 3% on the tiny graph.",
        "The issue asks for one code path.",
        "With another data seed we have seen 0 of 3.",
        "The lesson previously lived in tensor.py.",
        "backward used to be recursive",
        "The engine is now iterative.",
        "In this session the table was regenerated.",
        "We changed the default to float32.",
        "1.23x (was: 1.30x)",
        "Earlier measurements gave 1.4x.",
        "No workload slices a tensor any more.",
        "measured on 2026-12-05",
        "1.13x / 1.14x / 1.12x before it, against 1.05x / 1.11x / 1.07x after.",
        "as measured two sessions ago",
        "An LSTM step used to cut its four gates out of the matmul.",
        "a layer now unbinds the projection",
        "Each change was measured before it was kept.",
        "Before, the four gate slices were four getitem nodes.",
        "Every contender runs with it. Before it, tg's step took 25 ms.",
        "Against the tuned numpy, tg.nn.LSTM was:",
        "three runs of a slightly earlier state gave 1.15x",
        "What that change was worth shows better side by side.",
        "the goal is not met in today's runs",
        "审阅者测得 3%。",
        "这次会话里重新测了一遍。",
    ],
)
def test_history_is_caught(sentence):
    assert history(sentence), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "the state before the step",
        "Not every LSTM is the LSTM of [the previous page](lstm.md).",
        "earlier information can shape a later decision",
        "the weights used to compute the gates",
        "the tensor is used to build the graph",
        "z keeps the old state where the article's keeps the new one",
        "PyTorch's old names without the underscore are a TypeError here",
        "UPDATE_GOLDEN=1 regenerates them after an intended change",
        "the norm before clipping",
        "Each of these changes one thing",
        "a new thread starts with the defaults",
        "once `tanh` has its output, the product is freed",
        "any more than that",
        "- date: 2026-12-05",
        "`loss.backward()` must hand each op the whole dL/dy before it runs.",
        "the seed used to generate the data",
        "changes it later and returns whether it did",
        "each label follows from an earlier one",
        "how much gradient reaches each earlier step",
        "in a Jupyter session, `g` on the last line shows the drawing",
        "a token seen 20 steps before the question",
        "Only now, with both uses of h heard from, can the node run.",
        "线索远在许多个词之前。",
        "原来只有一个 tanh，现在换成了四个小的网络层",
    ],
)
def test_results_are_left_alone(sentence):
    assert not history(sentence), history(sentence)
