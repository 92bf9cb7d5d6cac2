#!/usr/bin/env bash
# Installs the cross toolchains and emulators the target tests need, only when missing, and builds the
# simavr harness. Idempotent: a second run installs nothing and rebuilds nothing.
#
# Without root or apt-get it prints exactly what to install and exits 0: the affected tests then skip
# with that reason (dwn_mcu/targets/toolchains.py checks the same commands). In CI (CI=true) a missing
# toolchain that cannot be installed is an error, because nothing may skip there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$HERE/build/simavr"

# Debian package -> a file that proves it is installed (a command or a header).
declare -A PROBE=(
  [gcc-avr]=/usr/bin/avr-gcc
  [avr-libc]=/usr/lib/avr/include/avr/io.h
  [binutils-avr]=/usr/bin/avr-objdump
  [simavr]=/usr/bin/simavr
  [libsimavr-dev]=/usr/include/simavr/sim_avr.h
  [libelf-dev]=/usr/include/libelf.h
  [pkg-config]=/usr/bin/pkg-config
  [gcc-arm-none-eabi]=/usr/bin/arm-none-eabi-gcc
  [libnewlib-arm-none-eabi]=/usr/lib/arm-none-eabi/newlib/librdimon.a
  [binutils-arm-none-eabi]=/usr/bin/arm-none-eabi-objdump
  [qemu-system-arm]=/usr/bin/qemu-system-arm
  [gcc-riscv64-unknown-elf]=/usr/bin/riscv64-unknown-elf-gcc
  [qemu-system-misc]=/usr/bin/qemu-system-riscv32
  [arduino-core-avr]=/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h
)
# Installed with their recommended packages (small) ...
WITH_RECOMMENDS=(gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev pkg-config arduino-core-avr)
# ... and without (the ARM and RISC-V recommends add gigabytes of documentation and other targets).
NO_RECOMMENDS=(gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm
               gcc-riscv64-unknown-elf qemu-system-misc)

# SETUP_PROBE_ROOT prefixes the probed paths (tests use it to see the messages without uninstalling).
missing() {
  local pkg
  for pkg in "$@"; do [[ -e "${SETUP_PROBE_ROOT:-}${PROBE[$pkg]}" ]] || echo "$pkg"; done
}

mapfile -t miss_rec < <(missing "${WITH_RECOMMENDS[@]}")
mapfile -t miss_norec < <(missing "${NO_RECOMMENDS[@]}")

if (( ${#miss_rec[@]} + ${#miss_norec[@]} )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup_toolchains: installing ${miss_rec[*]} ${miss_norec[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    (( ${#miss_rec[@]} )) && apt-get install -y -qq "${miss_rec[@]}"
    (( ${#miss_norec[@]} )) && apt-get install -y -qq --no-install-recommends "${miss_norec[@]}"
  else
    msg="missing toolchain packages; install them with:"
    (( ${#miss_rec[@]} )) && msg+=$'\n'"  sudo apt-get install -y ${miss_rec[*]}"
    (( ${#miss_norec[@]} )) && msg+=$'\n'"  sudo apt-get install -y --no-install-recommends ${miss_norec[*]}"
    echo "setup_toolchains: $msg" >&2
    if [[ -n "${CI:-}" ]]; then
      echo "setup_toolchains: CI is set, so this is an error (no target test may skip in CI)" >&2
      exit 1
    fi
    echo "setup_toolchains: the target tests that need them will skip" >&2
  fi
fi

# The simavr harness: rebuilt only when its source is newer than the binary (make does that check).
# --no-print-directory: under `make -C`, the -w that the outer make passes down would print
# "Entering directory" on every run, and a run with nothing to do must print nothing.
if [[ -e /usr/include/simavr/sim_avr.h && -e /usr/include/libelf.h ]] && command -v gcc >/dev/null; then
  if ! make -s -q --no-print-directory -C "$HERE/simavr" BUILD="$BUILD"; then
    echo "setup_toolchains: building the simavr harness in $BUILD"
    make -s --no-print-directory -C "$HERE/simavr" BUILD="$BUILD"
  fi
fi
