"""The explorer (tinygrad_rnn/viz/explore.py, explorer.js): the page's numbers are the graph's, its orders the
engine's; and, in headless Chromium, stepping lights the engine's order, the panels show the tensors' numbers,
the chart has a point per step, and a 20-step LSTM opens in under a second from a file under 2 MB."""

from __future__ import annotations

import json
import re
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import cli, viz
from tinygrad_rnn.viz.explore import example_loss, explore

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
pytestmark = needs_dot
BIG_STEPS = 20  # the size the explorer is held to: a 20-step LSTM, about 320 nodes at op level
MAX_BYTES = 2_000_000
MAX_LOAD_MS = 1000


def engine_ids(loss) -> tuple[list[str], dict]:
    """The traced ids of the ops in backward's order (tg.topological_order), and id -> the Function or leaf."""
    g = viz.trace(loss)
    order = tg.topological_order(loss)
    items = {g.id_of(fn): fn for fn in order}
    for fn in order:
        items.update({g.id_of(p): p for p in fn.parents if isinstance(p, tg.Tensor)})
    return [g.id_of(fn) for fn in order], items


def value_and_grad(item) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(item, tg.Tensor):
        return item.data, item.grad
    if len(item.shapes) == 1:
        return item.values[0], item.grads[0]
    grads = [np.zeros(s, item.dtype) if g is None else g for g, s in zip(item.grads, item.shapes, strict=True)]
    return item.join(list(item.values)), item.join(grads)


def piece_grad(items: dict, to: str, out) -> np.ndarray:
    """The gradient of what a send went to: a tensor, or one output of a split or unbind."""
    return value_and_grad(items[to])[1] if out is None else items[to].grads[out]


# -- the numbers, in Python ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lstm3():
    loss = example_loss("lstm", 3)
    return loss, explore(loss)


def test_the_orders_are_the_engines(lstm3):
    loss, page = lstm3
    backward, _ = engine_ids(loss)
    assert [s["node"] for s in page.data["backward"]] == backward
    assert page.data["forward"] == backward[::-1]
    ops = [nid for nid, n in viz.trace(loss).nodes.items() if n.kind == "op"]
    assert page.data["forward"] == ops  # the graph model's forward order


def test_every_value_and_gradient_is_the_tensors(lstm3):
    loss, page = lstm3
    _, items = engine_ids(loss)
    for nid, item in items.items():
        node = page.data["nodes"][nid]
        value, grad = value_and_grad(item)
        assert node["value"]["shape"] == list(value.shape)
        np.testing.assert_allclose(node["value"]["data"], value.ravel(), rtol=1e-6, atol=1e-30)
        if grad is not None:
            np.testing.assert_allclose(node["grad"]["data"], grad.ravel(), rtol=1e-6, atol=1e-30)
            assert node["grad"]["norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-6)


def test_what_each_op_sends_adds_up_to_its_inputs_gradient(lstm3):
    """One consumer: what it sent is the input's gradient. Several: the running sum ends at the gradient."""
    loss, page = lstm3
    _, items = engine_ids(loss)
    fan_in = 0
    for step in page.data["backward"]:
        for s in step["sends"]:
            if s["grad"] is None:
                assert items[s["to"]].requires_grad is False
                continue
            grad = piece_grad(items, s["to"], s["out"]).ravel()
            if s["of"] == 1:
                np.testing.assert_allclose(s["grad"]["data"], grad, rtol=1e-5, atol=1e-7)
                assert "sum" not in s
            elif s["k"] == s["of"]:
                fan_in += 1
                np.testing.assert_allclose(s["sum"]["data"], grad, rtol=1e-5, atol=1e-7)
    assert fan_in >= 5  # the shared weights, h and c used twice in a step, ...


def test_the_chain_rule_at_one_node_by_hand():
    """h feeds three ops' inputs: 3·h, h·h (as both inputs): it receives 3, h, h, in backward's order."""
    x = tg.Tensor(np.array([0.5, -1.0], np.float32), requires_grad=True, name="x")
    with tg.keep_values(), tg.scope("by_hand"):
        h = x.tanh()
        h.name = "h"
        loss = (h * 3 + h * h).sum()
    loss.backward(retain_grads=True, retain_graph=True)
    page = explore(loss)
    hid = viz.trace(loss).id_of(h)
    sends = [s for step in page.data["backward"] for s in step["sends"] if s["to"] == hid]
    assert [(s["k"], s["of"]) for s in sends] == [(1, 3), (2, 3), (3, 3)]
    hv = np.tanh(x.data)
    got = sorted(tuple(s["grad"]["data"]) for s in sends)
    want = sorted([tuple(np.full(2, 3.0)), tuple(hv), tuple(hv)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(sends[-1]["sum"]["data"], 3 + 2 * hv, rtol=1e-6)
    np.testing.assert_allclose(sends[-1]["sum"]["data"], h.grad, rtol=1e-6)
    assert [s["rule"] for s in page.data["backward"][0]["sends"]] == ["dx = broadcast(dy, x.shape)"]


def test_exploring_changes_nothing(lstm3):
    loss, page = lstm3
    before = [
        (fn.saved is None, [None if g is None else g.copy() for g in fn.grads]) for fn in tg.topological_order(loss)
    ]
    again = explore(loss)
    assert again.data == page.data and again.html == page.html  # deterministic, too
    after = [(fn.saved is None, fn.grads) for fn in tg.topological_order(loss)]
    for (released, grads), (released2, grads2) in zip(before, after, strict=True):
        assert released == released2
        for a, b in zip(grads, grads2, strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)


def test_what_is_missing_is_said_with_what_to_run():
    x = tg.Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    no_values = (x.tanh() * 2).sum()
    no_values.backward(retain_grads=True, retain_graph=True)
    with pytest.raises(ValueError, match=r"3 of the 3 ops kept no value.*with tg.keep_values\(\)"):
        explore(no_values)
    with tg.keep_values():
        no_grads = (x.tanh() * 2).sum()
    with pytest.raises(ValueError, match=r"kept no gradient.*retain_grads=True, retain_graph=True"):
        explore(no_grads)
    with tg.keep_values():
        released = (x.tanh() * 2).sum()
    released.backward(retain_grads=True)
    with pytest.raises(ValueError, match=r"released their saved arrays \(backward ran without retain_graph=True\)"):
        explore(released)
    with pytest.raises(ValueError, match="a leaf"):
        explore(x)
    with pytest.raises(TypeError, match="expected the Tensor"):
        explore(np.ones(3))


def test_large_arrays_are_statistics_only():
    page = explore(example_loss("lstm", 2), max_elements=8)
    weight = next(n for n in page.data["nodes"].values() if n["name"] == "weight_hh")
    assert weight["value"]["size"] == 64 and "data" not in weight["value"] and weight["value"]["norm"] > 0
    h = next(n for n in page.data["nodes"].values() if n["name"] == "h₁")
    assert len(h["value"]["data"]) == 4


def test_the_chart_series_are_the_norms_of_dL_dh_and_dL_dc():
    loss = example_loss("lstm", 4)
    page = explore(loss)
    _, items = engine_ids(loss)
    assert [s["key"] for s in page.data["series"]] == ["h", "c"]
    for s in page.data["series"]:
        assert [p[1] for p in s["points"]] == [0, 1, 2, 3]
        for k, _, norm in s["points"]:
            nid = page.data["steps"][k][s["key"]]
            assert norm == pytest.approx(np.linalg.norm(items[nid].grads[0]), rel=1e-6)
    rnn = explore(example_loss("rnn", 3))
    assert [s["key"] for s in rnn.data["series"]] == ["h"]
    two = explore(example_loss("gru", 2, layers=2))
    assert [s["label"] for s in two.data["series"]] == ["‖dL/dh_t‖ layer 0", "‖dL/dh_t‖ layer 1"]


def test_every_box_of_the_drawing_is_tagged():
    """Each node of the view, a gate in a step's table too, is a group of the SVG with its DOT name; each edge
    names its two ends; and every op is drawn somewhere."""
    for kind, steps, level in (("lstm", 2, "op"), ("gru", 2, "gate"), ("lstm", 3, "cell")):
        loss = example_loss(kind, steps)
        page = explore(loss, level=level)
        v = viz.view(loss, level=level, show_loss=True)
        tagged = set(re.findall(r'<g class="node(?: cell)?" data-id="([^"]+)"', page.html))
        assert tagged == set(v.nodes)
        ends = set(re.findall(r'data-(?:src|dst)="([^"]+)"', page.html))
        assert ends <= set(v.nodes), ends - set(v.nodes)
        drawn = [n for n in page.data["nodes"].values() if n["kind"] == "op" and n["drawn"]]
        assert len(drawn) >= (len(page.data["forward"]) if level == "op" else 1)
        drawing = page.html[page.html.index("<svg") : page.html.index("</svg>")]
        assert "<title>" not in drawing and "xlink:href" not in drawing  # no tooltip "n12", no link to follow


def test_above_max_nodes_a_coarser_level(recwarn):
    loss = example_loss("lstm", 30)
    page = explore(loss)
    assert page.data["level"] == "gate" and any(isinstance(w.message, viz.GraphTooLargeWarning) for w in recwarn)
    assert len(page.data["forward"]) == len(tg.topological_order(loss))  # still every op, one step each


def test_the_page_is_one_file_that_needs_nothing_else(lstm3):
    _, page = lstm3
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page.html)  # nothing from the network
    assert "<script src" not in page.html and "<link" not in page.html
    data = json.loads(
        re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page.html, re.S)[1]
    )
    assert data["forward"] == page.data["forward"]
    assert page._repr_html_().startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')


def test_the_command_writes_the_page(tmp_path, capsys):
    out = tmp_path / "lstm.html"
    assert cli.main(["explore", "lstm", "--steps", "2", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"wrote {out}: 36 ops, drawn at op level" in said and "file://" in said
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["lstm", "--steps", "0"], "--steps: must be at least 1, got 0"),
        (["lstm", "--out", "{tmp}/page.svg"], "--out must end in .html; got 'page.svg'"),
        (["lstm", "--out", "{tmp}"], "is a folder; give a file name"),
        (["lstm", "--out", "{tmp}/file/page.html"], "{tmp}/file is a file, not a folder"),
        (["lstm", "--steps", "1000", "--out", "{tmp}/page.html"], "more than the 5,000 an explorer page holds: use"),
        (["transformer"], "invalid choice: 'transformer'"),
    ],
)
def test_a_bad_argument_is_one_line_of_error(tmp_path, capsys, args, says):
    (tmp_path / "file").write_text("a file where a folder should be")
    with pytest.raises(SystemExit) as exit:
        cli.main(["explore", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err
    assert err.rstrip("\n").split("\n")[-1].startswith("tinygrad-rnn explore: error: ")
    assert says.replace("{tmp}", str(tmp_path)) in err


# -- in a real browser -----------------------------------------------------------------------------------------


def _chromedriver() -> str | None:
    return shutil.which("chromedriver") or next((p for p in ["/usr/bin/chromedriver"] if Path(p).exists()), None)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (starting one takes most of a second)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    path = _chromedriver()
    if path is None:
        pytest.skip("Chromium's chromedriver is not installed (make chromium)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(path), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The pages the browser tests open: a 3-step LSTM (stepped through whole) and the 20-step one."""
    folder = tmp_path_factory.mktemp("explore")
    made = {}
    for name, loss in (("small", example_loss("lstm", 3)), ("big", example_loss("lstm", BIG_STEPS))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # 20 steps are drawn at op level: no coarser level
            page = explore(loss)
        made[name] = (loss, page, page.save(folder / f"{name}.html"))
    return made


def open_page(driver, path: Path) -> float:
    """Load a page from its file; return the milliseconds from navigation to its script's end. Fails on any
    message the browser console got."""
    driver.get_log("browser")  # drop what an earlier page left
    driver.get(path.as_uri())
    ready = float(driver.execute_script("return document.body.dataset.ready"))
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    return ready


# What the page shows: the step (its phase and node), the boxes lit as its node, the counter.
STATE = """
const step = document.getElementById('step');
return {
  phase: step.dataset.phase || null, node: step.dataset.node || null,
  current: [...document.querySelectorAll('#graph g.node.current')].map((g) => g.dataset.id),
  where: document.getElementById('where').textContent,
};
"""
# Records what the page shows after each key press (keyup comes after the page's keydown has stepped).
RECORD = f"window.seen = []; document.addEventListener('keyup', () => window.seen.push((() => {{{STATE}}})()));"

# An array as a panel shows it: its statistics, its values (at most 16), and its heatmap cells' values.
ARRAY = """
function shown(box) {
  if (!box) return null;
  return {
    shape: box.querySelector('.shape').textContent,
    stats: Object.fromEntries([...box.querySelectorAll('dd[data-stat]')].map((d) => [d.dataset.stat, d.textContent])),
    values: [...box.querySelectorAll('.values .v')].map((v) => v.textContent),
    cells: [...box.querySelectorAll('svg.heatmap title')].map((t) => t.textContent.split(' = ')[1]),
  };
}
"""
SHOWN = ARRAY + "return shown(document.querySelector(arguments[0]));"
# Every step's numbers, stepping with the "next" button: the op's value (forward); dL/dy, and per input what
# was sent and the running sum (backward).
EVERY_STEP = (
    ARRAY
    + """
const out = [];
for (let k = 0; k < arguments[0]; k++) {
  document.getElementById('next').click();
  const step = document.getElementById('step');
  out.push({
    phase: step.dataset.phase, node: step.dataset.node,
    value: shown(step.querySelector('.array[data-what=value]')), dy: shown(step.querySelector('.array[data-what=dy]')),
    sends: [...step.querySelectorAll('.send')].map((s) => ({
      to: s.dataset.to, out: s.dataset.out === undefined ? null : Number(s.dataset.out),
      k: Number(s.dataset.k || 0), of: Number(s.dataset.of || 0),
      dx: shown(s.querySelector('.array[data-what=dx]')), sum: shown(s.querySelector('.array[data-what=sum]')),
    })),
  });
}
return out;
"""
)


def assert_shows(shown: dict, a: np.ndarray) -> None:
    """The panel's numbers (4 significant digits) are those of the array."""
    a = np.asarray(a, dtype=np.float64)
    assert shown["shape"] == str(tuple(a.shape))
    stats = {"min": a.min(), "max": a.max(), "mean": a.mean(), "norm": np.linalg.norm(a.ravel())}
    for k, want in stats.items():
        assert float(shown["stats"][k]) == pytest.approx(want, rel=1e-3, abs=1e-12), k
    assert len(shown["cells"]) == a.size
    np.testing.assert_allclose([float(c) for c in shown["cells"]], a.ravel(), rtol=1e-3, atol=1e-12)
    if a.size <= 16:
        np.testing.assert_allclose([float(v) for v in shown["values"]], a.ravel(), rtol=1e-3, atol=1e-12)


def press(driver, key: str, times: int = 1) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for _ in range(times):
        chain.send_keys(key)
    chain.perform()


def test_the_big_page_is_small_and_opens_in_under_a_second(browser, pages):
    _, page, path = pages["big"]
    boxes = {box for n in page.data["nodes"].values() for box in n["drawn"]}
    assert page.data["level"] == "op" and len(boxes) >= 300  # weights have a stub in each step
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{size:,} bytes"
    start = time.perf_counter()
    ready = open_page(browser, path)
    wall = time.perf_counter() - start
    print(f"\n20-step LSTM page: {size / 1e6:.2f} MB, script done {ready:.0f} ms after navigation, get() {wall:.2f} s")
    assert ready < MAX_LOAD_MS


def test_stepping_lights_the_engines_order_forward_then_backward(browser, pages):
    """→ pressed once per op twice over: the forward pass in forward order, then backward in tg.topological_order."""
    from selenium.webdriver.common.keys import Keys

    loss, page, path = pages["small"]
    open_page(browser, path)
    backward, _ = engine_ids(loss)
    timeline = [("forward", nid) for nid in backward[::-1]] + [("backward", nid) for nid in backward]
    browser.execute_script(RECORD)
    press(browser, Keys.ARROW_RIGHT, len(timeline))
    seen = browser.execute_script("return window.seen")
    assert [(s["phase"], s["node"]) for s in seen] == timeline
    for s in seen:  # the boxes lit as the step's node are the boxes drawn for it
        assert set(s["current"]) == set(page.data["nodes"][s["node"]]["drawn"])
    assert seen[-1]["where"] == f"backward {len(backward)} / {len(backward)}"
    press(browser, Keys.ARROW_LEFT, 3)  # and back
    assert browser.execute_script(STATE)["node"] == backward[-4]
    browser.find_element("id", "to-forward").click()
    assert browser.execute_script(STATE)["node"] == backward[-1]
    assert browser.get_log("browser") == []


def test_the_numbers_shown_are_the_tensors(browser, pages):
    """Forward: the op's value. Backward: dL/dy; what it sends to an input that has no other consumer, which is
    that input's gradient; and where gradients meet, the running sum, which ends at the input's gradient."""
    loss, page, path = pages["small"]
    open_page(browser, path)
    backward, items = engine_ids(loss)
    steps = browser.execute_script(EVERY_STEP, 2 * len(backward))
    assert [s["node"] for s in steps] == backward[::-1] + backward
    sums = 0
    for s in steps:
        value, grad = value_and_grad(items[s["node"]])
        if s["phase"] == "forward":
            assert_shows(s["value"], value)
            continue
        assert_shows(s["dy"], grad)
        for send in s["sends"]:
            if send["of"] == 0:  # to a constant: nothing sent
                assert send["dx"] is None
                continue
            received = piece_grad(items, send["to"], send["out"])
            if send["of"] == 1:
                assert_shows(send["dx"], received)
            elif send["k"] == send["of"]:
                sums += 1
                assert_shows(send["sum"], received)
    assert sums >= 5


def test_the_chart_has_a_point_per_step_and_selects_it(browser, pages):
    loss, page, path = pages["big"]
    open_page(browser, path)
    _, items = engine_ids(loss)
    points = browser.execute_script(
        "return [...document.querySelectorAll('#chart circle.point')].map((c) => [c.dataset.series, c.dataset.step,"
        " c.dataset.norm, c.querySelector('title').textContent])"
    )
    assert len(points) == 2 * BIG_STEPS  # h and c
    for series, k, norm, title in points:
        key = page.data["series"][int(series)]["key"]
        want = np.linalg.norm(items[page.data["steps"][int(k)][key]].grads[0])
        assert float(norm) == pytest.approx(want, rel=1e-6)
        assert float(title.rpartition(" = ")[2]) == pytest.approx(want, rel=1e-3)  # what hovering shows
    point = browser.find_element("css selector", "#chart circle.point[data-series='0'][data-step='4']")
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", point)
    h4 = page.data["steps"][4]["h"]
    assert browser.find_element("id", "node").get_attribute("data-node") == h4
    assert browser.find_element("id", "slider").get_attribute("value") == "4"
    assert set(
        browser.execute_script("return [...document.querySelectorAll('#graph g.selected')].map((g) => g.dataset.id)")
    ) == set(page.data["nodes"][h4]["drawn"])
    assert_shows(browser.execute_script(SHOWN, "#node .array[data-what=grad]"), items[h4].grads[0])


def test_clicking_a_node_opens_its_panel(browser, pages):
    loss, page, path = pages["small"]
    open_page(browser, path)
    _, items = engine_ids(loss)
    weight = next(nid for nid, n in page.data["nodes"].items() if n["name"] == "weight_hh")
    box = browser.find_element("css selector", f'#graph g.node[data-id="{weight}"]')
    browser.execute_script("arguments[0].scrollIntoView()", box)
    box.click()
    panel = browser.find_element("id", "node")
    assert panel.get_attribute("data-node") == weight and "weight_hh" in panel.text and "(16, 4) float32" in panel.text
    assert_shows(browser.execute_script(SHOWN, "#node .array[data-what=value]"), items[weight].data)
    assert_shows(browser.execute_script(SHOWN, "#node .array[data-what=grad]"), items[weight].grad)
    assert browser.get_log("browser") == []


def test_without_dot_the_page_has_everything_but_the_drawing(monkeypatch, browser, tmp_path):
    import graphviz

    def no_dot(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Source, "pipe", no_dot)
    loss = example_loss("rnn", 2)
    with pytest.warns(UserWarning, match="Graphviz's dot program.*was not found, so the page has no drawing"):
        page = explore(loss)
    assert "<svg" not in page.html and "no drawing" in page.html
    open_page(browser, page.save(tmp_path / "no_dot.html"))
    browser.find_element("id", "next").click()
    assert browser.execute_script(STATE)["node"] == page.data["forward"][0]
    assert len(browser.find_elements("css selector", "#chart circle.point")) == 2


def test_figures_screenshots_the_explorer_a_page_wide(browser, monkeypatch, tmp_path, capsys):
    """make figures: each screenshot 880 px wide (a docs page); without Chromium, a message and no failure."""
    from tinygrad_rnn.viz import figures

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", figures.SCREEN)
    try:
        png = figures.explorer_backward(browser)
    finally:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": False},
        )
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 880
    monkeypatch.setattr(figures, "chromium", lambda: (None, "no Chromium here"))
    assert figures.main([str(tmp_path), "--only", "rnn_rolled", "explorer_chart"]) == 0
    assert (tmp_path / "rnn_rolled.svg").exists() and not (tmp_path / "explorer_chart.png").exists()
    assert "figures: skipped the explorer's screenshots: no Chromium here" in capsys.readouterr().err
