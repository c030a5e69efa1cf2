# percept: `make demo` runs the main job on the embedded default, `make test` runs the tests.
# Every target sets up .venv on first use (pinned by requirements.lock) and is a no-op when
# nothing changed since.

PYTHON ?= python3.11
VENV   := .venv
STAMP  := $(VENV)/.installed
UV     := $(VENV)/bin/uv
PY     := $(VENV)/bin/python
export DVC_NO_ANALYTICS := 1
export RAY_USAGE_STATS_ENABLED := 0
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup demo test test-all bench lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet uv==0.13.9
	$(UV) pip install --python $(PY) --quiet -r requirements.lock
	$(UV) pip install --python $(PY) --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/percept demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

# Re-resolve the pinned set after editing requirements.in.
lock: $(STAMP)
	$(UV) pip compile requirements.in --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .percept
