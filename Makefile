# make test  - create .venv, install the package with its test extras and Graphviz's dot, run the tests
# make demo  - the same set-up, then run the main demo (the long-term dependency experiment) and draw the figures
# make docs  - regenerate every figure and measured result in docs/ (the long runs: about ten minutes on 2 cores)
# Both work from a fresh clone. Set PYTHON to choose the interpreter that makes the venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo docs lint bench lessons complexity figures dot chromium venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Graphviz's dot program renders the drawings; DOT text works without it.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Graphviz (dot) with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
			|| echo "could not install Graphviz; drawings will be written as .dot text only"; \
	else \
		echo "hint: install Graphviz's dot to render drawings (Debian/Ubuntu: sudo apt-get install graphviz); DOT text still works without it"; \
	fi

# Chromium and its chromedriver run the explorer's browser tests (tests/test_explore.py) and take its screenshots
# (make figures); without them those tests skip and the screenshots are left out, each saying why.
chromium:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium and chromedriver with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
			|| echo "could not install Chromium; the explorer's browser tests will be skipped"; \
	else \
		echo "hint: install Chromium and chromedriver to run the explorer's browser tests (Debian: sudo apt-get install chromium chromium-driver); the other tests run without them"; \
	fi

# pytest exits with 5 when it collects no tests (e.g. a -k filter that matches nothing): say so and fail.
test: $(STAMP) dot chromium
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): check PYTEST_ARGS"; fi; \
	exit $$rc

demo: $(STAMP) dot
	$(PY) demos/long_term_dependency.py
	@$(PY) -m tinygrad_rnn.viz.figures out/figures > /dev/null \
		|| echo "(no figures: Graphviz's dot is missing; see the hint above)"
	@echo ""
	@echo "results: out/long_term_dependency/  (accuracy_vs_gap.png, results.csv, summary.md)"
	@echo "figures: out/figures/               (the article's figures, drawn from real graphs)"
	@echo "next:    docs/index.md, and the other demos: .venv/bin/tinygrad-rnn demo"
	@printf "result:  "; grep "^at gap" out/long_term_dependency/summary.md

lint: $(STAMP)
	$(PY) -m ruff check .

# docs/benchmarks.md: the results of bench_overhead, bench_lstm and bench_viz on this machine (about 20 minutes).
bench: $(STAMP) dot
	$(PY) benchmarks/report.py --out docs/benchmarks.md

# What each speed lesson buys (docs/speed.md quotes these): every lesson switched off in turn, malloc's page faults,
# the matmul layouts OpenBLAS prefers.
lessons: $(STAMP)
	$(PY) benchmarks/bench_lessons.py
	$(PY) benchmarks/bench_page_faults.py
	$(PY) benchmarks/bench_matmul_layout.py

# The size and cyclomatic complexity of the engine's reading path (tinygrad_rnn/core), against its goals.
complexity: $(STAMP)
	$(PY) benchmarks/complexity.py

# The article's figures, drawn from real graphs into docs/images/ (SVG; needs Graphviz's dot), and the explorer's
# screenshots (PNG; need Chromium, else they are skipped with a message).
figures: $(STAMP) dot chromium
	$(PY) -m tinygrad_rnn.viz.figures docs/images

docs: figures
	$(PY) demos/long_term_dependency.py --full --out docs/results/long_term_dependency
	$(PY) demos/long_term_dependency.py --ablation --out docs/results/long_term_ablation
	$(PY) demos/inside_the_cell.py --out docs/results/inside_the_cell
	$(PY) demos/gradient_flow.py --out docs/results/gradient_flow

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
