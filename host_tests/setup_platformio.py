#!/usr/bin/env python3
"""Prepare an offline PlatformIO core folder (PLATFORMIO_CORE_DIR) in which `pio run -e nano` and
`pio run -e native` build a generated project without PlatformIO's registry.

    python host_tests/setup_platformio.py SHARED_PLATFORMIO_DIR CORE_DIR

It installs, as PlatformIO packages: the platforms `atmelavr` and `native` (copied from the shared
folder), Debian's AVR toolchain, Arduino core and simavr (symlinks), and SCons (`pip install --target`, the
version PlatformIO Core asks for). See ../shared/notes/platformio_offline.md. Idempotent: a stamp of
every input is kept in CORE_DIR; while it matches, a run changes nothing and prints nothing. It never
touches a project: the generated platformio.ini stays what a user with the registry runs.
Prints one line and exits 2 when something it needs is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCONS = ("tool-scons", "4.41101.0", "scons==4.11.1")  # PlatformIO Core 6.2 asks for ~4.41101.0
TOOLCHAIN = ("toolchain-atmelavr", "1.70300.0")  # atmelavr 5.2.0 asks for ~1.70300.0
FRAMEWORK = ("framework-arduino-avr", "5.3.0")  # ~5.3.0
SIMAVR = ("tool-simavr", "1.10700.0", Path("/usr/bin/simavr"))  # ~1.10700.0; for `pio test -e nano_simavr`
ARDUINO_AVR = Path("/usr/share/arduino/hardware/arduino/avr")
ARDUINO_PARTS = ("cores", "variants", "libraries", "bootloaders", "boards.txt", "platform.txt")
AVR_TOOLS = ("gcc", "g++", "c++", "cpp", "ar", "as", "ld", "nm", "objcopy", "objdump", "ranlib", "size",
             "strip", "gcc-ar", "gcc-nm", "gcc-ranlib", "addr2line", "readelf")
PLATFORMS = ("atmelavr", "native")


class SetupError(Exception):
    pass


def _piopm(kind: str, name: str, version: str) -> str:
    spec = {"owner": "platformio", "id": None, "name": name, "requirements": None, "uri": None}
    return json.dumps({"type": kind, "name": name, "version": version, "spec": spec})


def _mark_package(folder: Path, kind: str, name: str, version: str) -> None:
    if kind != "platform":
        (folder / "package.json").write_text(json.dumps({"name": name, "version": version}))
    (folder / ".piopm").write_text(_piopm(kind, name, version))


def _platforms(shared: Path, core: Path) -> None:
    for name in PLATFORMS:
        src = shared / "platforms" / name
        version = json.loads((src / "platform.json").read_text())["version"]
        dst = core / "platforms" / name
        shutil.copytree(src, dst)
        _mark_package(dst, "platform", name, version)


def _toolchain(core: Path) -> None:
    name, version = TOOLCHAIN
    bin_dir = core / "packages" / name / "bin"
    bin_dir.mkdir(parents=True)
    for tool in AVR_TOOLS:
        target = Path(f"/usr/bin/avr-{tool}")
        if target.exists():
            (bin_dir / target.name).symlink_to(target)
    _mark_package(bin_dir.parent, "tool", name, version)


def _framework(core: Path) -> None:
    name, version = FRAMEWORK
    folder = core / "packages" / name
    folder.mkdir(parents=True)
    for part in ARDUINO_PARTS:
        (folder / part).symlink_to(ARDUINO_AVR / part)
    _mark_package(folder, "framework", name, version)


def _simavr(core: Path) -> None:
    """Debian's simavr as PlatformIO's tool-simavr (the projects' `test_testing_command` runs bin/simavr)."""
    name, version, binary = SIMAVR
    if not binary.exists():
        return
    bin_dir = core / "packages" / name / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "simavr").symlink_to(binary)
    _mark_package(bin_dir.parent, "tool", name, version)


def _scons(core: Path) -> None:
    name, version, requirement = SCONS
    folder = core / "packages" / name
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(folder / "scons-local"), requirement], capture_output=True, text=True)
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
        raise SetupError(f"pip install {requirement} failed: {lines[-1]}")
    (folder / "scons.py").write_text(
        "import os, sys\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'scons-local'))\n"
        "import SCons.Script\n"
        "SCons.Script.main()\n")
    _mark_package(folder, "tool", name, version)


def _stamp(shared: Path) -> str:
    """A hash of every input: this script, the shared platforms' files, the Debian parts it links."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for name in PLATFORMS:
        for path in sorted((shared / "platforms" / name).rglob("*")):
            if path.is_file():
                h.update(str(path.relative_to(shared)).encode() + b"\0" + path.read_bytes())
    h.update(repr([t for t in AVR_TOOLS if Path(f"/usr/bin/avr-{t}").exists()] + [SIMAVR[2].exists()]).encode())
    return h.hexdigest()


def prepare(shared: Path, core: Path) -> bool:
    """Build CORE_DIR from scratch in a temporary folder beside it, then move it into place. False when
    it was already up to date."""
    for need in [shared / "platforms" / p / "platform.json" for p in PLATFORMS] + [ARDUINO_AVR / "cores",
                                                                                    Path("/usr/bin/avr-gcc")]:
        if not need.exists():
            raise SetupError(f"missing {need}")
    stamp = _stamp(shared)
    stamp_file = core / ".dwn_mcu_stamp"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return False
    core.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=core.name + ".", dir=core.parent))
    tmp.chmod(0o755)
    try:
        _platforms(shared, tmp)
        _toolchain(tmp)
        _framework(tmp)
        _simavr(tmp)
        _scons(tmp)
        (tmp / ".dwn_mcu_stamp").write_text(stamp)
        if core.exists():
            shutil.rmtree(core)
        tmp.rename(core)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: setup_platformio.py SHARED_PLATFORMIO_DIR CORE_DIR", file=sys.stderr)
        return 2
    try:
        if prepare(Path(argv[0]).resolve(), Path(argv[1]).resolve()):
            print(f"setup_platformio: prepared the offline PlatformIO core in {argv[1]}")
    except (SetupError, OSError) as exc:
        print(f"setup_platformio: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
