"""Test helpers for PlatformIO (not shipped in the package): the offline core folder, `pio run` and its
size report.

The core folder is prepared by host_tests/setup_platformio.py from the shared platforms
(`../shared/platformio` beside the clone, or DWN_MCU_PLATFORMIO), cached in host_tests/build/platformio;
tests skip with the reason where the shared folder is absent. The generated platformio.ini is never
touched: PLATFORMIO_CORE_DIR and PLATFORMIO_BUILD_FLAGS come through the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_PLATFORMIO = Path(os.environ.get("DWN_MCU_PLATFORMIO", REPO.parent / "shared" / "platformio"))
CORE = REPO / "host_tests" / "build" / "platformio"
SETUP = REPO / "host_tests" / "setup_platformio.py"
# Debian's gcc-avr 5.4 lacks DECIMAL_DIG in C++ (the Arduino core's WString.cpp needs it); PlatformIO's
# own toolchain does not. Through the environment, so platformio.ini stays what a user runs.
BUILD_FLAGS = "-DDECIMAL_DIG=__DECIMAL_DIG__"
_SIZE = re.compile(r"^(RAM|Flash):.*\(used (\d+) bytes from (\d+) bytes\)", re.M)


def core_dir() -> Path:
    """The prepared offline core folder (idempotent), or skip with the reason."""
    if not (SHARED_PLATFORMIO / "platforms").is_dir():
        pytest.skip(f"shared PlatformIO platforms {SHARED_PLATFORMIO} not found "
                    "(set DWN_MCU_PLATFORMIO to the shared platformio folder)")
    proc = subprocess.run([sys.executable, str(SETUP), str(SHARED_PLATFORMIO), str(CORE)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"offline PlatformIO core not prepared: {proc.stderr.strip()}")
    return CORE


def pio_env(core: Path) -> dict:
    return {**os.environ, "PLATFORMIO_CORE_DIR": str(core), "PLATFORMIO_BUILD_FLAGS": BUILD_FLAGS,
            "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No", "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "3650",
            "PLATFORMIO_NO_ANSI": "true"}


def pio(core: Path, project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m platformio ARGS -d PROJECT` with the offline core; output as text, stderr folded in."""
    return subprocess.run([sys.executable, "-m", "platformio", *args, "-d", str(project)], env=pio_env(core),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


@dataclass(frozen=True)
class PioBuild:
    env: str
    output: str
    ram: int | None  # PlatformIO's "RAM: ... used N bytes" (embedded environments)
    flash: int | None

    def artifact(self, project: Path, name: str) -> Path:
        return Path(project) / ".pio" / "build" / self.env / name


def pio_run(core: Path, project: Path, env: str) -> PioBuild:
    """`pio run -e ENV`; fails the test with PlatformIO's output when it does not succeed."""
    proc = pio(core, project, "run", "-e", env)
    assert proc.returncode == 0 and "[SUCCESS]" in proc.stdout, proc.stdout[-3000:]
    sizes = {kind: int(used) for kind, used, _ in _SIZE.findall(proc.stdout)}
    return PioBuild(env, proc.stdout, sizes.get("RAM"), sizes.get("Flash"))
