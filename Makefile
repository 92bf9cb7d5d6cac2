# dwn-mcu: `make demo` and `make test` set up everything they need from nothing, and are idempotent.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# The shared datasets sit beside a CI checkout; tests that need them skip when the folder is absent.
export DWN_MCU_DATA ?= $(abspath ../shared/datasets)
# glibc returns big buffers to the OS eagerly; on these VMs that makes torch spend its time in page faults.
export MALLOC_MMAP_THRESHOLD_ ?= 1000000000
export MALLOC_TRIM_THRESHOLD_ ?= 1000000000

.PHONY: setup venv toolchains platformio test demo bench clean

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch where this machine keeps it; otherwise the [train] extra brings one.
	$(PY) -m pip install -q torch==2.13.0 || echo "torch 2.13.0 CPU build not available; pip will choose torch"
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: venv toolchains platformio

# Cross compilers and emulators for the target proofs (installed only when missing), and the simavr
# harness (rebuilt only when its source changed). Without root it says what to install; tests skip.
toolchains:
	bash host_tests/setup_toolchains.sh

# An offline PlatformIO core for `pio run` / `pio test` on generated projects (tests/test_platformio.py),
# from the shared platforms beside the clone; prepared once, rebuilt only when an input changed.
PIO_SHARED ?= $(abspath ../shared/platformio)
platformio: venv
	@if [ -d "$(PIO_SHARED)/platforms" ]; then $(PY) host_tests/setup_platformio.py "$(PIO_SHARED)" host_tests/build/platformio; \
	else echo "platformio: $(PIO_SHARED) not found; the PlatformIO tests will skip"; fi

test: setup
	$(PY) -m pytest -q

# The whole pipeline on the bundled phoneme set: train the default DWN (the shape sized from the data,
# docs/training.md: for phoneme's 2 classes 200 LUTs, learnable mapping, 32 thresholds per feature), build
# a PlatformIO project for the Arduino Nano (the exact optimizer runs first), prove the C equal to the reference with gcc (strict and sanitizers) and on the ATmega328P in
# simavr (exact cycles), and the Arduino sketch over its serial port; then print the report.
demo: setup
	$(PY) -m dwn_mcu train --dataset phoneme -o demo_out/model.dwn --force
	$(PY) -m dwn_mcu info demo_out/model.dwn
	$(PY) -m dwn_mcu build demo_out/model.dwn --board nano -o demo_out/nano --selftest --force
	$(PY) -m dwn_mcu verify demo_out/nano
	@echo "Upload to a Nano: $(PY) -m platformio run -d demo_out/nano -t upload"

clean:
	rm -rf demo_out build dist *.egg-info
