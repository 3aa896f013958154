# airflow-provider-ango: two commands for a new user, `make demo` and `make test`.
# Needs only Python 3.10+ (and Node 18+ with npm for the Azure Blob emulator, Azurite).

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
SYNC_STAMP := $(VENV)/.ango-synced
AZURITE_DIR := tools/azurite
AZURITE_MAIN := $(AZURITE_DIR)/node_modules/azurite/dist/src/blob/main.js
PYTEST_ARGS ?=
MATRIX_LEGS ?=

# A uv on PATH wins; otherwise the one `uv-bootstrap` installs with pip. Deferred (=) so it is
# looked up after the bootstrap ran.
UV = $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: setup uv-bootstrap azurite test matrix lint demo bench clean

setup: $(SYNC_STAMP) azurite

uv-bootstrap:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || { \
		echo "uv not found: installing it with pip (uv resolves Airflow in seconds; pip backtracks for half an hour)"; \
		$(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv; }

# The locked environment with every extra; bytecode compiled because `import airflow` costs 6 s
# without it where PYTHONDONTWRITEBYTECODE is set.
$(SYNC_STAMP): pyproject.toml uv.lock | uv-bootstrap
	$(UV) sync --frozen --compile-bytecode --all-extras --python $(PYTHON)
	@touch $@

azurite: $(AZURITE_MAIN)

$(AZURITE_MAIN): $(AZURITE_DIR)/package.json $(AZURITE_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(AZURITE_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ "$$CI" = "true" ]; then \
		echo "npm (Node 18+) is required in CI: the Azure Blob tests run on Azurite" >&2; exit 1; \
	else \
		echo "npm not found: Azure Blob tests will be skipped (install Node 18+ and re-run make setup)" >&2; \
	fi

test: setup
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

# The version matrix (.ci/matrix): the matrix suite on the lowest declared versions and on Python
# 3.10 and 3.13, each in its own environment under .venv-matrix/. MATRIX_LEGS picks legs.
matrix: azurite | uv-bootstrap
	UV="$(UV)" bash .ci/matrix $(MATRIX_LEGS)

lint: $(SYNC_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: setup
	$(VENV_PY) scripts/demo.py

# Each benchmark prints its figures as ratios against a baseline measured in the same run.
bench: setup
	@for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(VENV_PY) $$script || exit 1; echo; \
	done

clean:
	rm -rf $(VENV) .venv-matrix $(AZURITE_DIR)/node_modules
