# snnpipe: set-up and the two main commands. `make demo` runs the main job, `make test` the tests.
# Both build .venv from nothing with Python 3.10 (lava-nc imports on 3.10 only) when needed.

VENV      := .venv
PY        := $(VENV)/bin/python
# The install is redone only when pyproject.toml changes (stamp keyed on its content).
STAMP     := $(VENV)/.installed-$(shell (sha256sum pyproject.toml 2>/dev/null || shasum -a 256 pyproject.toml) | cut -c1-16)
# Two workers (pytest-xdist): the suite is CPU-bound and the machines have 2 cores.
PYTEST    ?= -q -n 2 --durations=15

.PHONY: all setup demo test crosscheck lint bench doctor clean

all: test

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
		py="$${PYTHON310:-$$(sh tools/find-python310)}" || exit 1; \
		echo "creating $(VENV) with $$py"; rm -rf $(VENV); "$$py" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[lava,test]'
	@# sinabs 3.1.3 (a NIR oracle) pins nir<=1.0.4 and samna: installed without its pins
	$(PY) -m pip install --quiet --no-deps sinabs==3.1.3
	@echo "compiling the CPU kernels (numba caches them on disk): a quick demo run"
	rm -rf $(VENV)/.warmup && $(VENV)/bin/snnpipe demo --quick --quiet -o $(VENV)/.warmup >/dev/null
	rm -rf $(VENV)/.warmup $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(VENV)/bin/snnpipe demo

doctor: $(STAMP)
	$(VENV)/bin/snnpipe doctor

test: $(STAMP)
	$(PY) -m pytest $(PYTEST)

lint: $(STAMP)
	$(VENV)/bin/lint-imports

crosscheck: $(STAMP)
	SNNPIPE_CROSSCHECK=full $(PY) -m pytest -q -m crosscheck

# Rockpool 3.1.0 is the training bench's reference (bench-only: installed here, not by the core;
# --no-deps: its requirements, numpy and scipy, are installed already under lava-dl's pins).
bench: $(STAMP)
	$(PY) -c 'import rockpool' 2>/dev/null || $(PY) -m pip install --quiet --no-deps rockpool==3.1.0
	$(PY) bench/intsim.py
	$(PY) bench/train_step.py --threads 1 --json

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
