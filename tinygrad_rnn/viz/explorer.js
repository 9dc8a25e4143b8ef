/* The explorer's script (tinygrad_rnn/viz/explore.py inlines it into each page).

Steps through a recorded graph on its drawing: the forward pass op by op, then the backward pass in the
engine's order, each step lighting its node and filling the side panel; a chart of the gradient norm per
time step; a panel for any node clicked. Every number comes from the page's JSON, which Python computed
from the real graph: this script only lays numbers out and lights up the drawing. Plain JavaScript, no
libraries, no build step. */
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const NODES = DATA.nodes;
  const N = DATA.forward.length; // the timeline: forward steps 0 .. N-1, then backward steps N .. 2N-1
  const SVG_NS = "http://www.w3.org/2000/svg";
  const pane = document.getElementById("graph");
  const svg = pane.querySelector("svg") || document.createElementNS(SVG_NS, "svg"); // none without Graphviz's dot
  const $ = (id) => document.getElementById(id);

  // -- small helpers ---------------------------------------------------------------------------------------

  // An element with attributes and children (arrays are flattened, strings become text); `on*` attributes
  // become listeners; null, undefined and false attributes are left out.
  function h(tag, attrs, ...children) {
    const inSvg = ["svg", "rect", "line", "polyline", "circle", "text", "title", "g"].includes(tag);
    const el = inSvg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  // A number as the panels show it: 4 significant digits ("nan", "inf" come as text).
  function fmt(v) {
    if (typeof v === "string") return v;
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(4)));
    return v.toExponential(3).replace(/\.?0+e/, "e");
  }

  const shapeText = (shape) => "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")"); // as Python writes it
  const opText = (node) => node.op + (node.args ? " " + node.args : "");
  const scopeText = (node) => (node.scope.length ? node.scope.join(" › ") : "top level");
  const commas = (items, make) => items.map((item, i) => [i ? ", " : "", make(item)]);

  // -- the drawing: the SVG groups that stand for each traced node, and the edges between them ----------------

  const groups = new Map(); // drawn id -> its SVG group (a node, or one gate's row in a step's table of gates)
  for (const el of svg.querySelectorAll("g.node[data-id]")) groups.set(el.dataset.id, el);
  const drawnOf = (id) => NODES[id].drawn.map((d) => groups.get(d)).filter(Boolean);
  const edgeGroups = new Map(); // "src>dst" (drawn ids) -> the edges' groups
  for (const el of svg.querySelectorAll("g.edge[data-src]")) {
    const key = el.dataset.src + ">" + el.dataset.dst;
    if (!edgeGroups.has(key)) edgeGroups.set(key, []);
    edgeGroups.get(key).push(el);
  }

  // The edges drawn between two traced nodes (through a weight's stubs, or between the boxes that hold them;
  // either way round, as a chain drawn against time is written end to start).
  function edgesBetween(a, b) {
    const out = [];
    for (const da of NODES[a].drawn)
      for (const db of NODES[b].drawn)
        if (da !== db) out.push(...(edgeGroups.get(da + ">" + db) || []), ...(edgeGroups.get(db + ">" + da) || []));
    return out;
  }

  // Where each op comes in each pass, and the backward step that first sends a gradient to each node.
  const forwardAt = {}, backwardAt = {}, reachedAt = {};
  DATA.forward.forEach((id, k) => (forwardAt[id] = k));
  DATA.backward.forEach((step, k) => {
    backwardAt[step.node] = k;
    if (!(step.node in reachedAt)) reachedAt[step.node] = k; // the loss: backward starts there
    for (const s of step.sends) if (s.grad && !(s.to in reachedAt)) reachedAt[s.to] = k;
  });
  const consumers = {}; // traced id -> the ops that read it
  for (const [id, node] of Object.entries(NODES))
    for (const [src] of node.inputs) (consumers[src] = consumers[src] || []).push(id);

  // -- the state, and showing it ----------------------------------------------------------------------------

  let pos = -1; // the step shown: -1 before the first
  let selected = null; // the traced id of the node whose panel is open
  let zoom = 1;

  const phase = () => (pos < 0 ? null : pos < N ? "forward" : "backward");
  const current = () => (pos < 0 ? null : pos < N ? DATA.forward[pos] : DATA.backward[pos - N].node);

  // Whether a node is lit at this step: forward, once made (leaves are there from the start); backward, once
  // a gradient has reached it.
  function lit(id) {
    if (pos < 0) return true;
    if (pos < N) return NODES[id].kind !== "op" || forwardAt[id] <= pos;
    return reachedAt[id] !== undefined && reachedAt[id] <= pos - N;
  }

  function render() {
    const on = new Set();
    for (const id of Object.keys(NODES)) if (lit(id)) drawnOf(id).forEach((el) => on.add(el));
    for (const el of groups.values()) {
      el.classList.remove("current", "feeds", "gets", "selected");
      el.classList.toggle("dim", !on.has(el));
    }
    for (const list of edgeGroups.values())
      for (const el of list) {
        el.classList.remove("forward", "backward");
        const ends = [groups.get(el.dataset.src), groups.get(el.dataset.dst)];
        el.classList.toggle("dim", ends.some((g) => g && !on.has(g)));
      }
    const id = current();
    if (id) {
      // forward: what the op reads (blue); backward: the inputs it sends gradients to (orange)
      for (const [src] of NODES[id].inputs) {
        drawnOf(src).forEach((el) => el.classList.add(phase() === "forward" ? "feeds" : "gets"));
        edgesBetween(src, id).forEach((el) => el.classList.add(phase()));
      }
      drawnOf(id).forEach((el) => el.classList.add("current"));
    }
    if (selected) drawnOf(selected).forEach((el) => el.classList.add("selected"));
    $("where").textContent = pos < 0 ? `${N} ops: press → to step` : `${phase()} ${(pos % N) + 1} / ${N}`;
    $("prev").disabled = pos < 0;
    $("next").disabled = pos >= 2 * N - 1;
    stepPanel();
    nodePanel();
    markChart();
  }

  // Go to step p of the timeline (-1: before the first).
  function go(p) {
    pos = Math.max(-1, Math.min(2 * N - 1, p));
    const id = current();
    if (id && NODES[id].step !== null) $("slider").value = NODES[id].step; // the header follows the step
    showT();
    render();
    if (id) reveal(id);
  }

  // Open a node's panel (and its time step on the slider and the chart).
  function select(id) {
    selected = id;
    const k = NODES[id].step;
    if (k !== null) $("slider").value = k;
    showT();
    render();
    $("node").scrollIntoView({ block: "nearest" }); // the node's panel, below the step's, in view
  }

  // Scroll the drawing to centre a node's box, unless it is well inside the view already (so that steps
  // nearby keep the drawing still) and `always` is not set.
  function reveal(id, always = false) {
    const el = drawnOf(id)[0];
    if (!el) return;
    const r = el.getBoundingClientRect(), c = pane.getBoundingClientRect();
    const mx = always ? c.width / 2 : c.width * 0.2, my = always ? c.height / 2 : c.height * 0.2;
    const dx = r.left < c.left + mx || r.right > c.right - mx ? r.left + r.width / 2 - (c.left + c.width / 2) : 0;
    const dy = r.top < c.top + my || r.bottom > c.bottom - my ? r.top + r.height / 2 - (c.top + c.height / 2) : 0;
    pane.scrollBy(dx, dy);
  }

  // -- the panels --------------------------------------------------------------------------------------------

  // A link to a node (or to one output of a split or an unbind): clicking it opens its panel and shows it.
  function nodeLink(id, out) {
    const node = NODES[id];
    let text = node.name;
    if (out !== null && out !== undefined && node.pieces.length)
      text = node.pieces[out][1] || `${text}[${node.pieces[out][0]}]`;
    const open = (e) => {
      e.preventDefault();
      select(id);
      reveal(id);
    };
    return h("a", { href: "#", class: "link", "data-node": id, onclick: open }, text);
  }

  // An array: its shape, min / max / mean / norm, a heatmap, and its values when there are at most 16.
  function arrayView(label, a, what) {
    const head = h("div", { class: "head" }, label, " ", h("span", { class: "shape" }, shapeText(a.shape)));
    const stats = ["min", "max", "mean", "norm"].map((k) => [h("dt", {}, k), h("dd", { "data-stat": k }, fmt(a[k]))]);
    const box = h("div", { class: "array", "data-what": what }, head, h("dl", { class: "stats" }, stats));
    if (!a.data) {
      const size = a.size.toLocaleString("en");
      box.append(h("p", { class: "note" }, `${size} elements: statistics only (the page keeps the values of `
        + `arrays of up to ${DATA.max_elements}; explore(..., max_elements=...) keeps more)`));
      return box;
    }
    if (a.size > 0) box.append(heatmap(a));
    const values = commas(a.data, (v) => h("span", { class: "v" }, fmt(v)));
    if (a.size <= 16) box.append(h("div", { class: "values" }, "[", values, "]"));
    return box;
  }

  // A grid of coloured cells, one per element (the last axis across, the others down): red above zero, blue
  // below, white at zero, on a scale up to the array's largest magnitude. Hover a cell for its value.
  function heatmap(a) {
    const cols = a.shape.length ? a.shape[a.shape.length - 1] : 1, rows = a.size / cols;
    const cell = Math.max(3, Math.min(24, Math.floor(320 / cols), Math.floor(240 / rows)));
    const top = Math.max(Math.abs(Number(a.min)), Math.abs(Number(a.max))) || 1;
    const map = h("svg", { class: "heatmap", width: cols * cell, height: rows * cell });
    a.data.forEach((v, i) => {
      const r = Math.floor(i / cols), c = i % cols;
      const index = a.shape.length > 1 ? `[${r}, ${c}]` : `[${i}]`;
      const rect = { x: c * cell, y: r * cell, width: cell, height: cell, fill: colour(v, top) };
      map.append(h("rect", rect, h("title", {}, `${index} = ${fmt(v)}`)));
    });
    return map;
  }

  function colour(v, top) {
    if (typeof v === "string") return "#999"; // nan, inf
    const t = Math.min(1, Math.abs(v) / top), end = v > 0 ? [178, 24, 43] : [33, 102, 172];
    return "rgb(" + [247, 247, 247].map((w, i) => Math.round(w + (end[i] - w) * t)).join(",") + ")";
  }

  // An op's rule, "y = ...;  dx = ...", with what it adds in brackets as a note under it.
  function ruleView(node) {
    const [rule, ...more] = (node.rule || node.op).split("   (");
    const note = more.length ? h("p", { class: "note" }, "(" + more.join("   (")) : null;
    return h("div", {}, h("p", { class: "rule" }, rule), note);
  }

  // The step's panel: forward, the op, its rule, what it read and the value it made; backward, the chain rule
  // at one node: the gradient that arrived (dL/dy), the op's rule, and what it sent to each input, with the
  // running sum where an input gets gradients from several ops.
  function stepPanel() {
    const box = $("step");
    box.replaceChildren();
    const id = current();
    if (!id) {
      box.append(h("h2", {}, "Step through the graph"), h("p", {}, `→ (or "next") runs the forward pass one op `
        + `at a time (${N} ops, each after its inputs), then the backward pass in the engine's order `
        + "(tg.topological_order). Click a node for its value and gradient; click the chart, or move the time "
        + "step slider, to go to a time step."));
      return;
    }
    const node = NODES[id];
    Object.assign(box.dataset, { node: id, phase: phase() });
    const title = `${phase() === "forward" ? "Forward" : "Backward"} ${(pos % N) + 1}: `;
    box.append(h("h2", {}, title, nodeLink(id), " ", h("span", { class: "op" }, opText(node))));
    box.append(h("p", { class: "scope" }, scopeText(node)));
    if (phase() === "forward") {
      box.append(h("p", { class: "rule" }, node.forward));
      box.append(h("p", {}, "reads: ", commas(node.inputs, ([src, out]) => nodeLink(src, out))));
      box.append(arrayView("value", node.value, "value"));
      return;
    }
    const arrived =
      id === DATA.root ? "dL/dy: backward starts at the loss, dL/dL = 1" : "dL/dy, the gradient that arrived";
    box.append(node.grad ? arrayView(arrived, node.grad, "dy") : h("p", {}, "no gradient arrived"));
    box.append(ruleView(node));
    for (const s of DATA.backward[pos - N].sends) {
      const data = { "data-to": s.to, "data-out": s.out, "data-arg": s.arg, "data-k": s.k, "data-of": s.of };
      const to = h("div", { class: "send", ...data });
      to.append(h("h3", {}, "→ ", nodeLink(s.to, s.out), h("span", { class: "op" }, `  input ${s.arg}: ${s.rule}`)));
      if (!s.grad) {
        to.append(h("p", { class: "note" }, "no gradient: it does not require one"));
      } else {
        to.append(arrayView("dx", s.grad, "dx"));
        if (s.of > 1) {
          const sum =
            s.k === s.of ? `sum of all ${s.of} arrived: its gradient` : `running sum, ${s.k} of ${s.of} arrived`;
          to.append(arrayView(sum, s.sum, "sum"));
        }
      }
      box.append(to);
    }
  }

  // The panel of the node clicked: its name, op, scope, shape, value and gradient, and where it comes from and goes.
  function nodePanel() {
    const box = $("node");
    box.replaceChildren();
    if (!selected) return;
    const node = NODES[selected];
    box.dataset.node = selected;
    box.append(h("h2", {}, node.name, " ", h("span", { class: "op" }, node.kind === "op" ? opText(node) : node.kind)));
    box.append(h("p", { class: "scope" }, scopeText(node)));
    const unnamed = node.named ? "" : "  (unnamed: its formula)";
    box.append(h("p", {}, `shape ${shapeText(node.shape)} ${node.dtype}`, unnamed));
    if (node.rule) box.append(ruleView(node));
    if (node.value) box.append(arrayView("value", node.value, "value"));
    if (node.grad) box.append(arrayView(node.kind === "op" ? "gradient dL/dy" : "gradient (.grad)", node.grad, "grad"));
    else box.append(h("p", { class: "note" }, node.requires_grad ? "no gradient reached it" : "needs no gradient"));
    if (node.grad_note) box.append(h("p", { class: "note" }, node.grad_note));
    if (node.inputs.length) box.append(h("p", {}, "reads: ", commas(node.inputs, ([src, out]) => nodeLink(src, out))));
    const users = consumers[selected] || [];
    if (users.length) box.append(h("p", {}, "read by: ", commas(users, (u) => nodeLink(u))));
    if (node.kind === "op") {
      const forward = h("button", { onclick: () => go(forwardAt[selected]) }, "its forward step");
      const backward = h("button", { onclick: () => go(N + backwardAt[selected]) }, "its backward step");
      box.append(h("p", {}, forward, " ", backward));
    }
  }

  // -- the chart: the gradient norm of h_t (and c_t) at each time step, on a log scale ----------------------

  const COLOURS = { h: "#1f77b4", c: "#ff7f0e" };
  const plot = { top: 0, bottom: 0 }; // the plot area's extent, for the mark of the selected step

  function drawChart() {
    const box = $("chart");
    if (!DATA.series.length) {
      box.append(h("p", { class: "note" }, "No time steps with an h (scopes t=0, t=1, ...): no chart."));
      return;
    }
    const W = Math.max(300, box.clientWidth - 16), H = 112, L = 46, R = 12, T = 8, B = 26;
    const points = DATA.series.flatMap((s) => s.points);
    const ts = points.map((p) => p[1]), norms = points.map((p) => Number(p[2])).filter((v) => v > 0);
    const t0 = Math.min(...ts), t1 = Math.max(...ts);
    let lo = Math.floor(Math.log10(Math.min(...norms, 1))), hi = Math.ceil(Math.log10(Math.max(...norms, 1e-300)));
    if (hi <= lo) hi = lo + 1;
    const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
    // A log scale cannot show 0: exact zeros (no gradient reached the step) get their own row, labelled 0.
    const zeros = points.some((p) => !(Number(p[2]) > 0)), Z = zeros ? 12 : 0;
    const y = (v) => (v > 0 ? H - B - Z - ((Math.log10(v) - lo) / (hi - lo)) * (H - T - B - Z) : H - B);
    Object.assign(plot, { top: T, bottom: H - B });
    const chart = h("svg", { width: W, height: H, role: "img", "aria-label": "gradient norm per time step" });
    for (let e = lo; e <= hi; e += Math.ceil((hi - lo) / 6)) {
      chart.append(h("line", { x1: L, x2: W - R, y1: y(10 ** e), y2: y(10 ** e), class: "grid" }));
      chart.append(h("text", { x: L - 4, y: y(10 ** e) + 3, class: "tick", "text-anchor": "end" }, `1e${e}`));
    }
    if (zeros) chart.append(h("text", { x: L - 4, y: H - B + 3, class: "tick", "text-anchor": "end" }, "0"));
    for (let t = t0; t <= t1; t += Math.ceil((t1 - t0 + 1) / 10))
      chart.append(h("text", { x: x(t), y: H - B + 12, class: "tick", "text-anchor": "middle" }, String(t)));
    chart.append(h("text", { x: (L + W - R) / 2, y: H - 2, class: "axis", "text-anchor": "middle" }, "time step t"));
    chart.append(h("g", { id: "chart-mark" }));
    DATA.series.forEach((s, i) => {
      const line = s.points.map((p) => `${x(p[1])},${y(Number(p[2]))}`).join(" ");
      const dash = s.chain > 0 ? "4 3" : null; // a second layer (or direction) dashed
      chart.append(h("polyline", { points: line, stroke: COLOURS[s.key], "stroke-dasharray": dash, class: "series" }));
      for (const [k, t, v] of s.points) {
        const dot = { cx: x(t), cy: y(Number(v)), r: 4, fill: COLOURS[s.key], class: "point" };
        const data = { "data-series": i, "data-step": k, "data-norm": v, onclick: () => selectStep(k) };
        const tip = `${DATA.steps[k].label}: ${s.label.split(" ")[0]} = ${fmt(v)}`;
        chart.append(h("circle", { ...dot, ...data }, h("title", {}, tip)));
      }
    });
    const legend = DATA.series.map((s) => h("span", { style: `color: ${COLOURS[s.key]}` }, (s.chain > 0 ? "●┄ " : "●— ") + s.label));
    box.append(h("h2", {}, "Gradient reaching each time step", legend), chart);
  }

  // Mark the open node's time step on the chart.
  function markChart() {
    const mark = $("chart-mark");
    if (!mark) return;
    mark.replaceChildren();
    const k = selected ? NODES[selected].step : null;
    for (const c of document.querySelectorAll("#chart circle.point"))
      c.classList.toggle("on", Number(c.dataset.step) === k);
    const on = document.querySelector("#chart circle.point.on");
    const x = on && on.getAttribute("cx");
    if (on) mark.append(h("line", { x1: x, x2: x, y1: plot.top, y2: plot.bottom, class: "mark" }));
  }

  // -- time steps: the slider and the chart open a step's h_t (or c_t, or its last node) ---------------------

  function selectStep(k) {
    const s = DATA.steps[k];
    const id = s.h || s.c || Object.keys(NODES).filter((n) => NODES[n].step === k).pop();
    select(id);
    reveal(id);
  }

  function showT() {
    $("t").textContent = DATA.steps.length ? DATA.steps[Number($("slider").value)].label : "";
  }

  // -- zoom: the drawing's size, from its own (dot writes points: 1 pt = 4/3 px) ---------------------------

  const box = svg.viewBox.baseVal || { width: 0, height: 0 };
  function setZoom(z) {
    zoom = Math.max(0.1, Math.min(4, z));
    svg.style.width = `${((box.width * 4) / 3) * zoom}px`;
    svg.style.height = `${((box.height * 4) / 3) * zoom}px`;
  }
  const fitZoom = () => (pane.clientWidth - 4) / ((box.width * 4) / 3);

  // -- wiring ----------------------------------------------------------------------------------------------

  $("prev").addEventListener("click", () => go(pos - 1));
  $("next").addEventListener("click", () => go(pos + 1));
  $("to-forward").addEventListener("click", () => go(0));
  $("to-backward").addEventListener("click", () => go(N));
  $("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  $("zoom-fit").addEventListener("click", () => setZoom(fitZoom()));
  const slider = $("slider");
  slider.max = Math.max(0, DATA.steps.length - 1);
  if (!DATA.steps.length) $("time").hidden = true;
  slider.addEventListener("input", () => selectStep(Number(slider.value)));
  svg.addEventListener("click", (e) => {
    const el = e.target.closest("g.node[data-id]");
    if (el && DATA.boxes[el.dataset.id]) select(DATA.boxes[el.dataset.id]);
  });
  const keys = {
    ArrowRight: () => go(pos + 1),
    ArrowLeft: () => go(pos - 1),
    Home: () => go(0),
    End: () => go(2 * N - 1),
    b: () => go(N),
    B: () => go(N),
    "+": () => setZoom(zoom * 1.25),
    "-": () => setZoom(zoom / 1.25),
    0: () => setZoom(fitZoom()),
  };
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey || !keys[e.key]) return;
    e.preventDefault();
    keys[e.key]();
  });

  // Start at a zoom that shows the drawing's whole height, if its text stays readable; then the panels.
  setZoom(Math.min(1, Math.max(0.8, (pane.clientHeight - 4) / ((box.height * 4) / 3))));
  drawChart();
  showT();
  render();
  const state = () => ({ pos, phase: phase(), node: current(), selected });
  window.explorer = { go, select, selectStep, reveal, setZoom, state }; // for scripts: the tests, make figures
  document.body.dataset.ready = String(performance.now()); // ms from navigation start: the tests' load time
})();
