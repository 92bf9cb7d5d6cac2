"""`host_tests/setup_toolchains.sh`: idempotent, says exactly what to install without root, and fails
instead of skipping in CI."""

import os
import subprocess
from pathlib import Path

import pytest

from target_tools import skip_or_fail

SCRIPT = Path(__file__).resolve().parents[1] / "host_tests" / "setup_toolchains.sh"


def _run(env_extra=None, path_prefix=None):
    env = dict(os.environ)
    env.pop("CI", None)
    env.update(env_extra or {})
    if path_prefix:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)


def test_second_run_does_nothing():
    first = _run()  # installs or builds whatever is missing (nothing, after `make setup`)
    assert first.returncode == 0, first.stderr
    second = _run()
    if "missing toolchain packages" in second.stderr:  # no root here: it could only say what to install
        skip_or_fail(second.stderr.strip().splitlines()[0])
    assert second.returncode == 0
    assert second.stdout == "" and second.stderr == ""  # nothing installed, nothing rebuilt


@pytest.fixture
def not_root(tmp_path):
    """A PATH on which `id -u` answers 1000, so the script takes its no-root branch."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake / "id").chmod(0o755)
    return fake


def test_without_root_it_prints_what_to_install(tmp_path, not_root):
    proc = _run({"SETUP_PROBE_ROOT": str(tmp_path / "nothing")}, not_root)
    assert proc.returncode == 0
    assert "sudo apt-get install -y gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev pkg-config" \
           " arduino-core-avr" in proc.stderr
    assert "sudo apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi " \
           "binutils-arm-none-eabi qemu-system-arm gcc-riscv64-unknown-elf qemu-system-misc" in proc.stderr
    assert "will skip" in proc.stderr


def test_in_ci_a_missing_toolchain_is_an_error(tmp_path, not_root):
    proc = _run({"SETUP_PROBE_ROOT": str(tmp_path / "nothing"), "CI": "true"}, not_root)
    assert proc.returncode == 1
    assert "CI is set, so this is an error" in proc.stderr


def test_missing_toolchain_skips_here_but_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing avr-gcc"):
        skip_or_fail("missing avr-gcc")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nothing may skip in CI"):
        skip_or_fail("missing avr-gcc")
