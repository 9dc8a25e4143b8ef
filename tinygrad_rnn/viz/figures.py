"""`make figures`: the figures of "Understanding LSTM Networks", drawn from real graphs; the explorer's screenshots.

    python -m tinygrad_rnn.viz.figures [OUT_DIR] [--only NAME ...]     (OUT_DIR: docs/images)

Each figure is a small seeded model run forward (and backward where gradients are shown), drawn by
`draw`: nothing is drawn by hand, so a figure changes when the code it depicts changes. The screenshots
(PNG, a docs page wide) are the explorer's page (`explore`) of such a model in headless Chromium, at a
forward step, a backward step and a time step; without Chromium, its chromedriver or selenium they are
skipped with a message.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import graphviz
import numpy as np

from ..core import Tensor, scope
from ..nn import LSTMCell
from ..nn.functional import mse_loss
from .draw import draw, grad_range
from .examples import unrolled_loss
from .explore import example_loss, explore
from .views import elided

LONG_STEPS = 32


def rnn_rolled() -> graphviz.Digraph:
    loss, _ = unrolled_loss("rnn", 4, backward=False)
    return draw(loss, level="cell", rolled=True, labels="names", title="A recurrent neural network, rolled")


def rnn_unrolled() -> graphviz.Digraph:
    loss, _ = unrolled_loss("rnn", 4, backward=False)
    return draw(loss, level="cell", labels="names", title="The same network unrolled: a copy of A per step")


def short_term_dependency() -> graphviz.Digraph:
    loss, xs = unrolled_loss("rnn", 3)
    return draw(
        loss,
        level="cell",
        focus=(loss, xs[0]),
        labels="names",
        title="A short gap: the path from x₀ to the loss is short, and its gradient arrives",
    )


def _long_gap(model: int, title: str) -> Callable[[], graphviz.Digraph]:
    """One of the two long-gap models (0: the RNN, 1: the LSTM; same seed, same inputs), drawn on the
    one colour scale of both, its first 3 and last 2 steps drawn."""

    def figure() -> graphviz.Digraph:
        losses = unrolled_loss("rnn", LONG_STEPS)[0], unrolled_loss("lstm", LONG_STEPS, forget_bias=3.0)[0]
        scale = grad_range(*losses)
        return draw(losses[model], level="cell", elide=(3, 2), labels="names", grad_scale=scale, title=title)

    return figure


_ELIDED = f"{LONG_STEPS} steps, {elided(LONG_STEPS, 3, 2)} of them drawn as ⋯"
long_term_rnn = _long_gap(0, f"A plain RNN over a long gap ({_ELIDED}): the gradient reaching x₀ has all but vanished")
long_term_lstm = _long_gap(1, "An LSTM (forget bias 3) over the same gap, on the same colour scale: it still arrives")


def _module(kind: str, title: str, focus: tuple[str, ...] | None = None) -> Callable[[], graphviz.Digraph]:
    """The article's chain of three modules A, the middle one drawn inside (its gates), and focused."""

    def figure() -> graphviz.Digraph:
        loss, _ = unrolled_loss(kind, 3, backward=False)
        return draw(loss, level="cell", detail=1, focus=focus, labels="names", title=title)

    return figure


def lstm_backward() -> graphviz.Digraph:
    loss, _ = unrolled_loss("lstm", 2, loss="sum")
    return draw(
        loss,
        backward=True,
        labels="names",
        direction="TB",
        title="Backward through two LSTM steps: each edge numbered in the order backward runs it,\n"
        "labelled with its op's rule for the gradient it sends back (the op's variables: see its node)",
    )


def truncated_bptt() -> graphviz.Digraph:
    """Two chunks of two steps; the state is detached between them, so backward stops at the cut."""
    rng = np.random.default_rng(0)
    cell = LSTMCell(3, 4, rng=rng)
    state, first = None, None
    with scope("lstm"):
        for t in range(4):
            if t == 2:
                first = state  # the first chunk's last state: drawn too, so the cut has two ends
                state = tuple(s.detach() for s in state)
            with scope(f"t={t}"):
                x = Tensor(rng.standard_normal((1, 3)).astype(np.float32), requires_grad=True, name=f"x_{t}")
                state = cell(x, state)
        loss = mse_loss(state[0], np.zeros((1, 4), dtype=np.float32))
    loss.name = "loss"
    loss.backward(retain_grads=True)
    return draw(
        loss,
        first[0],
        level="cell",
        labels="names",
        title="Truncated backpropagation through time: detach() cuts the graph between chunks,\n"
        "so the second chunk's gradient (blue) stops at the cut; the first chunk gets none",
    )


FIGURES: dict[str, Callable[[], graphviz.Digraph]] = {
    "rnn_rolled": rnn_rolled,
    "rnn_unrolled": rnn_unrolled,
    "short_term_dependency": short_term_dependency,
    "long_term_rnn": long_term_rnn,
    "long_term_lstm": long_term_lstm,
    "rnn_chain": _module("rnn", "The repeating module in a standard RNN: a single tanh layer"),
    "lstm_chain": _module("lstm", "The repeating module in an LSTM: four interacting layers"),
    "lstm_focus_forget": _module("lstm", "Forget gate: fₜ = σ(W_f·[hₜ₋₁, xₜ] + b_f)", ("forget_gate",)),
    "lstm_focus_input": _module(
        "lstm",
        "Input gate and candidate: iₜ = σ(W_i·[hₜ₋₁, xₜ] + b_i), C̃ₜ = tanh(W_C·[hₜ₋₁, xₜ] + b_C)",
        ("input_gate", "candidate"),
    ),
    "lstm_focus_cell_update": _module("lstm", "Cell update: Cₜ = fₜ ⊙ Cₜ₋₁ + iₜ ⊙ C̃ₜ", ("cell_state",)),
    "lstm_focus_output": _module("lstm", "Output: oₜ = σ(W_o·[hₜ₋₁, xₜ] + b_o), hₜ = oₜ ⊙ tanh(Cₜ)", ("output_gate",)),
    "lstm_backward": lstm_backward,
    "truncated_bptt": truncated_bptt,
    "peephole": _module("peephole", "Peephole connections: the gates also look at the cell state"),
    "coupled": _module("coupled", "Coupled forget and input gates: iₜ = 1 − fₜ"),
    "gru": _module("gru", "Gated recurrent unit (PyTorch's form): reset r, update z, candidate n"),
}


# -- the explorer's screenshots ---------------------------------------------------------------------------------

SCREEN = {"width": 880, "height": 640, "deviceScaleFactor": 1, "mobile": False}  # a docs page's width


def chromium():
    """A headless Chromium driven by selenium, the size of a docs page; None, and why, without one."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[dev]')"
    driver = shutil.which("chromedriver") or next((p for p in ["/usr/bin/chromedriver"] if Path(p).exists()), None)
    if driver is None:
        return None, "Chromium's chromedriver is not installed (make chromium)"
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", SCREEN)
    return browser, ""


def _op(page, name: str, step: str | None = None) -> str:
    """The traced id of the op the page calls name ('f₂'; 'f·C' in step 't = 2')."""
    nodes = page.data["nodes"]
    return next(
        nid for nid, n in nodes.items() if n["name"] == name and n["kind"] == "op" and step in (None, *n["scope"])
    )


def _shot(browser, kind: str, steps: int, script: Callable) -> bytes:
    """A screenshot of the explorer's page of `example_loss(kind, steps)`, after running the JavaScript that
    `script(page)` returns (window.explorer's go, select, selectStep), the step's node centred in the drawing."""
    page = explore(example_loss(kind, steps))
    with tempfile.TemporaryDirectory() as folder:
        path = page.save(Path(folder) / "page.html")
        browser.get(path.as_uri())
        browser.execute_script(
            script(page) + "; const s = explorer.state(); explorer.reveal(s.node || s.selected, true)"
        )
        return browser.get_screenshot_as_png()


def explorer_forward(browser) -> bytes:
    """Forward, at the forget gate of step 1: its value, with the op's rule and what it read."""
    return _shot(browser, "lstm", 3, lambda page: f"explorer.go({page.data['forward'].index(_op(page, 'f₁'))})")


def explorer_backward(browser) -> bytes:
    """Backward, at f · c of step 2 (the forget gate at work): dL/dy, the rule, and what goes to f₂ and to C₁, where
    it meets the gradient C₁ gets through h₁."""

    def script(page) -> str:
        order = [s["node"] for s in page.data["backward"]]
        return f"explorer.go({len(order) + order.index(_op(page, 'f·C', 't = 2'))})"

    return _shot(browser, "lstm", 3, script)


def explorer_chart(browser) -> bytes:
    """The chart of a 20-step LSTM, step 2 selected: the gradient fades going back in time, less along C."""
    return _shot(browser, "lstm", 20, lambda page: "explorer.selectStep(2)")


SCREENSHOTS: dict[str, Callable] = {
    "explorer_forward": explorer_forward,
    "explorer_backward": explorer_backward,
    "explorer_chart": explorer_chart,
}


def screenshots(out: Path, names: list[str]) -> None:
    """Save the named screenshots as out/NAME.png, or say why they cannot be taken."""
    if not names:
        return
    browser, why = chromium()
    if browser is None:
        print(f"figures: skipped the explorer's screenshots: {why}", file=sys.stderr)
        return
    try:
        for name in names:
            path = out / f"{name}.png"
            path.write_bytes(SCREENSHOTS[name](browser))
            print(f"wrote {path}")
    finally:
        browser.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/images"), help="folder for the figures")
    parser.add_argument("--only", nargs="+", choices=[*FIGURES, *SCREENSHOTS], help="make only these")
    ns = parser.parse_args(argv)
    ns.out.mkdir(parents=True, exist_ok=True)
    names = ns.only or [*FIGURES, *SCREENSHOTS]
    for name in [n for n in names if n in FIGURES]:
        path = ns.out / f"{name}.svg"
        try:
            path.write_bytes(FIGURES[name]().pipe(format="svg"))
        except graphviz.ExecutableNotFound:
            print(
                "figures: Graphviz's `dot` program is needed to draw the figures (apt-get install graphviz)",
                file=sys.stderr,
            )
            return 1
        print(f"wrote {path}")
    screenshots(ns.out, [n for n in names if n in SCREENSHOTS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
