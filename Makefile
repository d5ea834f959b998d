# Two entry points for a fresh machine (see README):
#   make run    - set up .venv and run the main job on the embedded default data
#   make test   - set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PIP     = $(VENV)/bin/python -m pip
STAMP   = $(VENV)/.installed

.PHONY: run test setup clean

$(STAMP): pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints-cpu.txt -e ".[suite,test]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/edlrr-bench run --preset quick

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info

# asv smoke check (CI): every benchmark module imports and a small subset runs once
.PHONY: bench-smoke
bench-smoke: $(STAMP)
	$(VENV)/bin/asv check --python=same
	$(VENV)/bin/asv machine --yes --machine ci
	$(VENV)/bin/asv run --python=same --quick --machine ci --bench 'EstimatorFunctionals|AccuracyFunctionals|AccuracyPerProduct|Theorem4Theory|TikhonovPinv|FastVsExact\.\w+\(.power., (384|512),'
