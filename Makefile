# hx: one hx.yaml in, a provisioned LLM inference host out.
#
#   make demo    set up, then validate and render the local sandbox spec (sandbox/hx.yaml)
#   make test    set up, then run every check CI runs (lint, specs, renders, pytest)
#   make golden  refresh golden test outputs after an intended change (review the diff!)
#   make bench   print benchmark JSON (render speed)

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HXGEN := $(VENV)/bin/hxgen
DEBIAN_TEST_PACKAGES := systemd nginx openssl prometheus prometheus-alertmanager

.PHONY: setup setup-test demo test lint golden bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# Real consumers of rendered files (systemd-analyze) come from Debian packages.
setup-test: setup
	@missing=$$(for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

demo: setup
	$(HXGEN) validate sandbox/hx.yaml
	$(HXGEN) render sandbox/hx.yaml
	@echo
	@echo "Rendered for the sandbox host:"
	@find sandbox/inventory sandbox/rendered -type f | sort | sed 's/^/  /'
	@echo
	@echo "Engine command of the first model:"
	@sed -n '/^ExecStart=/,/^[^ ]/p' sandbox/rendered/systemd/hx-model-tiny-a.service | sed '$$d'

lint: setup
	$(VENV)/bin/ruff check hxgen tests benchmarks
	$(VENV)/bin/ruff format --check hxgen tests benchmarks

test: setup-test lint
	$(HXGEN) validate --strict hx.yaml
	$(HXGEN) render --check --strict hx.yaml
	$(HXGEN) render --check --strict sandbox/hx.yaml
	$(HXGEN) schema --check
	$(VENV)/bin/pytest

golden: setup
	HX_UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/test_golden.py tests/test_invalid_specs.py
	$(HXGEN) render hx.yaml
	$(HXGEN) render sandbox/hx.yaml
	$(HXGEN) schema
	git status --short

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
