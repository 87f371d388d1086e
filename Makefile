# The two commands a newcomer needs: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

# An independent OCPP client (npm ocpp-rpc, strict mode) the tests drive; skipped where there is no npm.
PEER_RPC = tests/peers/ocpp_rpc
$(PEER_RPC)/node_modules/.package-lock.json: $(PEER_RPC)/package.json $(PEER_RPC)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(PEER_RPC) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the ocpp-rpc peer tests will be skipped"; fi

install: $(STAMP) $(PEER_RPC)/node_modules/.package-lock.json

run: install
	$(VENV)/bin/chargewatch demo

# The domain packages are pure code (no I/O, no clock): they are type-checked; the whole tree is linted.
DOMAIN = src/chargewatch/domain src/chargewatch/ocpp src/chargewatch/sessions src/chargewatch/billing src/chargewatch/faults \
         src/chargewatch/feedback src/chargewatch/pki

# The suite runs on every core (pytest-xdist): each test makes its own database and server on free ports. A file
# stays on one worker, in order: some modules share one server between tests that build on each other.
PYTEST_ARGS ?= -n auto --dist loadfile
test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy $(DOMAIN)

bench: install
	$(PY) bench/run.py
	$(PY) bench/feedback_classifier.py
	$(PY) bench/drop_alerts.py
	$(PY) bench/chargers_list.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-data $(PEER_RPC)/node_modules
