# pyqemu developer entry points.  Every target sets up what it needs on a fresh Debian 12 machine.
VENV    := .venv
PY      := $(VENV)/bin/python
GUESTS  := $(PY) -m pyqemu.tools.guests
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint guests clean

$(VENV)/.installed: pyproject.toml scripts/install-deps.sh
	sh scripts/install-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

guests: setup
	$(GUESTS) fetch

demo: guests
	$(PY) -m pyqemu.tools.demo

test: guests
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

bench: guests
	$(PY) -m pyqemu.tools.bench
	$(PY) -m pyqemu.tools.bench_boot
	$(PY) -m pyqemu.tools.bench_img

lint: setup
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) build src/*.egg-info
