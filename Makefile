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

# the tests that run translated code, once more on the python backend (the reference) when the first
# pass used another one (x86_64 is the default on x86-64 hosts); the differential test of the two
# backends against each other already ran
TCG_TESTS := tests/accel tests/target tests/linux_user tests/gdbstub tests/system tests/monitor
OTHER_PASS := --deselect tests/accel/test_backend_differential.py::test_backends_agree_on_random_blocks

test: guests
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)
	@if [ "$$($(PY) -c 'from pyqemu.accel.tcg import backends; print(backends.default_name())')" != python ]; \
	then echo "== the same tests on the python backend"; \
	PYQEMU_TCG_BACKEND=python $(PY) -m pytest -q -ra $(OTHER_PASS) $(PYTEST_ARGS) $(TCG_TESTS); fi

bench: guests
	$(PY) -m pyqemu.tools.bench
	$(PY) -m pyqemu.tools.bench_boot
	$(PY) -m pyqemu.tools.bench_img
	$(PY) -m pyqemu.tools.bench_kvm

lint: setup
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) build src/*.egg-info
