"""Build an Arduino sketch for the Nano (ATmega328P) against Debian's `arduino-core-avr` with the
Arduino core's own recipe (platform.txt: `-Os -flto -ffunction-sections -fdata-sections`, gnu++11 for
C++), and run it in simavr, feeding its serial port.

This proves the firmware a user uploads (`src/main.cpp` and the model library), not only the
bare-metal test build. gcc-avr 5.4's `float.h` lacks `DECIMAL_DIG` in C++, so `-DDECIMAL_DIG=
__DECIMAL_DIG__` lets the core's `WString.cpp` build.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from .simavr import RunOutput, run_avr
from .toolchains import ARDUINO_AVR_DIR, REPO_HOST_TESTS, TargetError

MCU = "atmega328p"
F_CPU = "16000000L"
DEFINES = ("-DF_CPU=" + F_CPU, "-DARDUINO=10807", "-DARDUINO_AVR_NANO", "-DARDUINO_ARCH_AVR",
           "-DDECIMAL_DIG=__DECIMAL_DIG__")
C_FLAGS = ("-c", "-Os", "-w", "-std=gnu11", "-ffunction-sections", "-fdata-sections", "-flto",
           "-fno-fat-lto-objects", f"-mmcu={MCU}", *DEFINES)
CXX_FLAGS = ("-c", "-Os", "-w", "-std=gnu++11", "-fpermissive", "-fno-exceptions", "-ffunction-sections",
             "-fdata-sections", "-fno-threadsafe-statics", "-Wno-error=narrowing", "-flto", f"-mmcu={MCU}",
             *DEFINES)
S_FLAGS = ("-c", "-x", "assembler-with-cpp", "-flto", f"-mmcu={MCU}", *DEFINES)
LINK_FLAGS = ("-w", "-Os", "-flto", "-fuse-linker-plugin", "-Wl,--gc-sections", f"-mmcu={MCU}")
VARIANT = "eightanaloginputs"  # the Nano's variant in boards.txt

CORE_CACHE = REPO_HOST_TESTS / "build" / "arduino-core"


def _run(cmd, cwd) -> None:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        first = next((m for m in lines if "error" in m), lines[0] if lines else "")
        raise TargetError(f"Arduino build: {Path(str(cmd[0])).name} failed: {first}")


def _includes() -> list[str]:
    return [f"-I{ARDUINO_AVR_DIR / 'cores' / 'arduino'}", f"-I{ARDUINO_AVR_DIR / 'variants' / VARIANT}"]


def core_archive() -> Path:
    """The Arduino core compiled for the Nano (built once, cached under host_tests/build/)."""
    core = ARDUINO_AVR_DIR / "cores" / "arduino"
    sources = sorted(p for p in core.iterdir() if p.suffix in (".c", ".cpp", ".S") and p.name != "main.cpp")
    key = hashlib.sha256(repr((C_FLAGS, CXX_FLAGS, S_FLAGS, [(p.name, p.stat().st_mtime) for p in sources]))
                         .encode()).hexdigest()[:12]
    out = CORE_CACHE / key
    archive = out / "core.a"
    if archive.is_file():
        return archive
    CORE_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CORE_CACHE))  # one per process: builds may race
    objs = []
    for src in sources:
        cc, flags = {".c": ("avr-gcc", C_FLAGS), ".cpp": ("avr-g++", CXX_FLAGS), ".S": ("avr-gcc", S_FLAGS)}[src.suffix]
        obj = src.name + ".o"
        _run([cc, *flags, *_includes(), str(src), "-o", obj], tmp)
        objs.append(obj)
    # main.cpp holds the Arduino main() (init, setup, loop); link it as an object so it is not dropped
    _run(["avr-g++", *CXX_FLAGS, *_includes(), str(core / "main.cpp"), "-o", "main.cpp.o"], tmp)
    _run(["avr-gcc-ar", "rcs", "core.a", *objs], tmp)
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: keep its archive
        shutil.rmtree(tmp, ignore_errors=True)
    return archive


def build_sketch(sketch_cpp: Path, library_dirs, workdir, extra_defines=()) -> Path:
    """Compile `sketch_cpp` with the `.c`/`.cpp` sources of each library folder and link the Nano ELF."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    core = core_archive()
    incs = _includes() + [f"-I{Path(d)}" for d in library_dirs]
    defines = [f"-D{d}" for d in extra_defines]
    objs = []
    _run(["avr-g++", *CXX_FLAGS, *defines, *incs, str(sketch_cpp), "-o", "sketch.o"], work)
    objs.append("sketch.o")
    for d in library_dirs:
        for src in sorted(Path(d).iterdir()):
            if src.suffix in (".c", ".cpp"):
                cc, flags = ("avr-gcc", C_FLAGS) if src.suffix == ".c" else ("avr-g++", CXX_FLAGS)
                obj = f"lib_{src.name}.o"
                _run([cc, *flags, *defines, *incs, str(src), "-o", obj], work)
                objs.append(obj)
    _run(["avr-gcc", *LINK_FLAGS, "-o", "sketch.elf", *objs, str(core.parent / "main.cpp.o"), str(core), "-lm"], work)
    return work / "sketch.elf"


def run_sketch(elf, serial_input: str = "", banner_lines: int = 0, idle_cycles: int = 4_000_000,
               max_cycles: int = 2_000_000_000, timeout: float = 120.0, workdir=None) -> RunOutput:
    """Run a sketch in simavr, typing `serial_input` into its UART one line at a time, each after the
    sketch answered the previous one (and the first after `banner_lines` lines of start-up output, such
    as a self-test result, and 10 ms for setup()). The run ends once the sketch has printed nothing for
    `idle_cycles` cycles (loop() never returns). The input file goes to `workdir` (default: beside the ELF)."""
    work = Path(workdir) if workdir is not None else Path(elf).parent
    feed = work / "serial_in.txt"
    feed.write_text(serial_input)
    return run_avr(elf, mcu=MCU, max_cycles=max_cycles, uart_in=feed, idle_cycles=idle_cycles, timeout=timeout,
                   uart_lines=True, uart_wait_lines=banner_lines, uart_start_cycles=160_000)
