"""Cross toolchains per target architecture, with the compiler flags PlatformIO uses for the boards.

Flags are PlatformIO's own, taken from its platform build scripts (Arduino framework):

* atmelavr (`builder/frameworks/arduino.py`): `-Os -Wall -ffunction-sections -fdata-sections -flto
  -mmcu=$MCU -DF_CPU=...L`, C `-std=gnu11 -fno-fat-lto-objects`; link `-Os -mmcu -Wl,--gc-sections
  -flto -fuse-linker-plugin -lm`.
* ststm32 (stm32duino `tools/platformio/platformio-build.py`): `-Os -mcpu=$CPU -mthumb
  -ffunction-sections -fdata-sections -nostdlib --param max-inline-insns-single=500`, plus
  `-mfpu=fpv4-sp-d16 -mfloat-abi=hard` on Cortex-M4; link `-Os -mthumb -mcpu --specs=nano.specs
  -Wl,--gc-sections,--relax`. No LTO. The Cortex-M0+ (RP2040) and M4F targets use the same form.
* RISC-V (ESP32-C3 class): `-Os -march=rv32imc_zicsr_zifencei -mabi=ilp32 -ffunction-sections -fdata-sections`;
  Debian has no RISC-V newlib, so test firmwares are freestanding (`-nostdlib`, libgcc only).

A `Target` also says how to run its firmware (simavr or QEMU) and how PlatformIO sums the ELF's
sections into flash and RAM (docs/design.md, "Memory accounting").
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import DWNError


class TargetError(DWNError):
    """A target build or run failed: missing toolchain, compile error, emulator crash or timeout."""

# Debian packages that provide each command (what `host_tests/setup_toolchains.sh` installs).
PACKAGES = {
    "avr-gcc": "gcc-avr avr-libc binutils-avr",
    "avr-g++": "gcc-avr avr-libc",
    "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi",
    "riscv64-unknown-elf-gcc": "gcc-riscv64-unknown-elf",
    "qemu-system-arm": "qemu-system-arm",
    "qemu-system-riscv32": "qemu-system-misc",
    "gcc": "gcc",
    "pkg-config": "pkg-config",
}

AVR_FLASH_SECTIONS = (".text", ".data", ".bootloader")
ARM_FLASH_SECTIONS = (".text", ".data", ".rodata", ".text.align", ".ARM.exidx", ".isr_vector")
RAM_SECTIONS = (".data", ".bss", ".noinit")


@dataclass(frozen=True)
class Target:
    """One emulated target: how to compile for it, run it and size it."""

    name: str  # the CLI's name: avr, cortex-m0plus, cortex-m3, cortex-m4f, rv32
    arch: str  # the testbench's port: avr, cortex-m, rv32
    cc: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    libs: tuple[str, ...]
    runner: str  # simavr | qemu-arm | qemu-riscv32
    machine: str = ""  # QEMU machine or AVR MCU
    flash_sections: tuple[str, ...] = ARM_FLASH_SECTIONS
    ram_sections: tuple[str, ...] = RAM_SECTIONS
    latency_unit: str = "instructions"  # what the runner counts per inference
    #: Flash of the emulated chip when it limits a test firmware (0: large enough), and the bytes left free
    #: below it when filling a firmware with vectors (alignment).
    flash: int = 0
    flash_slack: int = 0

    @property
    def commands(self) -> tuple[str, ...]:
        """Commands this target needs on PATH."""
        runner = {"simavr": "gcc", "qemu-arm": "qemu-system-arm", "qemu-riscv32": "qemu-system-riscv32"}
        return (self.cc, runner[self.runner])


_AVR_CFLAGS = ("-Os", "-Wall", "-ffunction-sections", "-fdata-sections", "-flto", "-std=gnu11",
               "-fno-fat-lto-objects")


def _arm(cpu: str, *fpu: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    common = (f"-mcpu={cpu}", "-mthumb", *fpu)
    cflags = ("-Os", *common, "-ffunction-sections", "-fdata-sections", "-nostdlib", "--param",
              "max-inline-insns-single=500", "-std=gnu11")
    ldflags = ("-Os", *common, "--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections,--relax")
    return cflags, ldflags


_M0 = _arm("cortex-m0plus")
_M3 = _arm("cortex-m3")
_M4F = _arm("cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")

TARGETS: dict[str, Target] = {
    "avr": Target(
        name="avr", arch="avr", cc="avr-gcc",
        cflags=(*_AVR_CFLAGS, "-mmcu=atmega328p", "-DF_CPU=16000000L"),
        ldflags=("-Os", "-mmcu=atmega328p", "-Wl,--gc-sections", "-flto", "-fuse-linker-plugin"),
        libs=("-lm",), runner="simavr", machine="atmega328p",
        flash_sections=AVR_FLASH_SECTIONS, latency_unit="cycles",
        flash=32768, flash_slack=256,  # the whole ATmega328P: test firmwares need no bootloader
    ),
    "cortex-m0plus": Target(
        name="cortex-m0plus", arch="cortex-m", cc="arm-none-eabi-gcc", cflags=_M0[0], ldflags=_M0[1],
        libs=("-lc", "-lgcc"), runner="qemu-arm", machine="mps2-an385",
    ),
    "cortex-m3": Target(
        name="cortex-m3", arch="cortex-m", cc="arm-none-eabi-gcc", cflags=_M3[0], ldflags=_M3[1],
        libs=("-lc", "-lgcc"), runner="qemu-arm", machine="mps2-an385",
    ),
    "cortex-m4f": Target(
        name="cortex-m4f", arch="cortex-m", cc="arm-none-eabi-gcc", cflags=_M4F[0], ldflags=_M4F[1],
        libs=("-lc", "-lgcc"), runner="qemu-arm", machine="mps2-an386",
    ),
    "rv32": Target(
        name="rv32", arch="rv32", cc="riscv64-unknown-elf-gcc",
        cflags=("-Os", "-march=rv32imc_zicsr_zifencei", "-mabi=ilp32", "-ffunction-sections", "-fdata-sections",
                "-ffreestanding", "-nostdlib", "-std=gnu11"),
        # Linked as rv32imc so that GCC picks its rv32im/ilp32 libgcc multilib (the _zicsr spelling
        # matches no multilib and would pull in the 64-bit libgcc).
        ldflags=("-Os", "-march=rv32imc", "-mabi=ilp32", "-nostdlib", "-nostartfiles", "-Wl,--gc-sections"),
        libs=("-lgcc",), runner="qemu-riscv32", machine="virt",
        flash_sections=(".text", ".rodata", ".srodata", ".data", ".sdata"),
        ram_sections=(".data", ".sdata", ".bss", ".sbss"),
    ),
}

#: Where the simavr harness is built (by `make setup`, or on first use).
REPO_HOST_TESTS = Path(__file__).resolve().parents[2] / "host_tests"
HARNESS_SRC = REPO_HOST_TESTS / "simavr"
HARNESS_BIN = REPO_HOST_TESTS / "build" / "simavr" / "avr_run"

# The Arduino AVR core Debian ships in `arduino-core-avr`.
ARDUINO_AVR_DIR = Path("/usr/share/arduino/hardware/arduino/avr")


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise TargetError(f"unknown target {name!r}; known: {', '.join(TARGETS)}") from None


def missing_tools(target: Target) -> list[str]:
    """The commands `target` needs that are not on PATH (empty when it is ready)."""
    need = list(target.commands)
    if target.runner == "simavr":
        need.append("pkg-config")
    missing = [c for c in need if shutil.which(c) is None]
    if target.runner == "simavr" and not Path("/usr/include/simavr/sim_avr.h").is_file():
        missing.append("libsimavr-dev")
    return missing


def install_hint(missing: list[str]) -> str:
    """One line saying what to install for the missing commands."""
    pkgs = sorted({p for c in missing for p in PACKAGES.get(c, c).split()})
    return "missing " + ", ".join(missing) + "; install with: sudo apt-get install -y --no-install-recommends " + " ".join(pkgs)


def arduino_core_missing() -> list[str]:
    missing = [c for c in ("avr-g++",) if shutil.which(c) is None]
    if not (ARDUINO_AVR_DIR / "cores" / "arduino" / "Arduino.h").is_file():
        missing.append("arduino-core-avr")
    return missing
