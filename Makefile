# Everything installs into .venv; the only prerequisites are python3 (3.11+), make and git.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell python3 -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:10])")

.PHONY: run test lint typecheck bench mutate demo clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/pwtui

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Static checks first, then the suite in 8 processes (its tests mostly wait on simulated
# devices, so they overlap well on 2 cores; each test has its own folders, ports and network).
test: $(STAMP) lint typecheck
	$(PY) -m pytest -q -n 8

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[mutate]'
	$(PY) tools/mutate.py

clean:
	rm -rf $(VENV) .pytest_cache
