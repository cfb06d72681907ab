# cultura — developer entry points. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.cultura-installed

.PHONY: install demo test bench eval docs lint clean

install: $(STAMP)

$(STAMP): pyproject.toml $(PLUGINS) scripts/install-torch.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	bash scripts/install-torch.sh $(PY)
	$(PY) -m pip install -q -e ".[dev,docs,demo,plot,serve,data,eval,export]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

demo: install
	$(VENV)/bin/cultura demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run.py

# efficacy on real data (docs/efficacy.md): `make eval EVAL_ARGS=--quick` for the 13-minute subset
eval: install
	$(PY) benchmarks/efficacy.py $(EVAL_ARGS)

docs: install
	$(PY) -m mkdocs build --strict

lint: install
	$(PY) -m ruff check src plugins tests benchmarks

clean:
	rm -rf $(VENV) site build dist .pytest_cache
