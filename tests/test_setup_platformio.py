"""host_tests/setup_platformio.py: the offline PlatformIO core is prepared once and a second run changes
and prints nothing; a missing input is one line and exit 2, with nothing written."""

import subprocess
import sys

from pio_helpers import CORE, SETUP, SHARED_PLATFORMIO, core_dir


def _run(*args):
    return subprocess.run([sys.executable, str(SETUP), *map(str, args)], capture_output=True, text=True)


def test_second_run_changes_and_prints_nothing():
    core = core_dir()  # prepared (or already there)
    before = {p: p.lstat().st_mtime_ns for p in core.rglob("*") if "scons-local" not in p.parts}
    proc = _run(SHARED_PLATFORMIO, core)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert {p: p.lstat().st_mtime_ns for p in core.rglob("*") if "scons-local" not in p.parts} == before
    for pkg in ("toolchain-atmelavr", "framework-arduino-avr", "tool-scons", "tool-simavr"):
        assert (core / "packages" / pkg / ".piopm").is_file()
    assert (core / "platforms" / "atmelavr" / ".piopm").is_file() and CORE == core


def test_missing_shared_folder_is_one_line(tmp_path):
    proc = _run(tmp_path / "no-shared", tmp_path / "core")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "core").exists()
