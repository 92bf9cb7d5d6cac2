"""Pytest helpers for the target proofs: skip when a toolchain is missing on a user's machine, fail in
CI (env CI set), where `make setup` installs everything and nothing may skip."""

from __future__ import annotations

import os

from dwn_mcu.targets.toolchains import arduino_core_missing, get_target, install_hint, missing_tools


def skip_or_fail(reason: str) -> None:
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: run `make setup`; nothing may skip in CI)")
    pytest.skip(reason)


def require_target(name: str):
    """The Target, or skip (fail in CI) with what to install."""
    target = get_target(name)
    missing = missing_tools(target)
    if missing:
        skip_or_fail(f"target {name}: {install_hint(missing)}")
    return target


def require_arduino_core() -> None:
    missing = arduino_core_missing()
    if missing:
        skip_or_fail(f"Arduino sketch build: {install_hint(missing)}")
