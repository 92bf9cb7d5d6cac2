"""Render and build the bare-metal test firmware: the model library, its test vectors in flash and a
small main that runs each vector between latency markers (firmware_templates/testbench/)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..compiler.cgen import c_identifier, environment
from ..resources import resource_dir
from .toolchains import Target, TargetError

TEMPLATE_DIR = "testbench"
WARNINGS = ("-Wall", "-Wextra", "-Werror")


def render_testbench(target: Target, name: str, X: np.ndarray, num_classes: int, with_model: bool = True,
                     input_type: str = "float32", marks: int = 0) -> str:
    """The test firmware's `main.c` for `target`, running model `name` on the rows of `X`: float32, or the
    integers of an integer-input model (`input_type`), each kept in flash as a 32-bit word. `marks` > 0:
    a profile firmware, whose model marks the end of its first `marks` phases (`render_profile_header`)."""
    c_identifier(name, "model name", TargetError)
    floats = input_type == "float32"
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32) if floats else np.asarray(X, dtype=np.int64).astype(np.int32))
    if X.ndim != 2 or X.shape[0] == 0:
        raise TargetError(f"test vectors must be a non-empty (N, F) array, got shape {X.shape}")
    if X.shape[0] > 65535:
        raise TargetError(f"{X.shape[0]} test vectors in one firmware; at most 65535")
    bits = X.view(np.uint32)
    rows = [", ".join(f"0x{v:08x}u" for v in row) for row in bits]
    return environment(TEMPLATE_DIR).get_template("main.c.j2").render(
        name=name, P=name.upper(), arch=target.arch, with_model=with_model, vectors=rows, floats=floats,
        input_ctype="float" if floats else f"{input_type}_t",
        num_vectors=X.shape[0], num_features=X.shape[1], num_classes=num_classes, marks=marks,
    )


def render_profile_header(target: Target, name: str) -> str:
    """`tb_profile.h`, force-included into model `name`'s sources in a profile firmware: it defines the
    model's phase-mark hook (`NAME_PROFILE_MARK`) for `target`'s counter."""
    c_identifier(name, "model name", TargetError)
    return environment(TEMPLATE_DIR).get_template("profile.h.j2").render(name=name, P=name.upper(), arch=target.arch)


@dataclass(frozen=True, eq=False)
class TestProgram:
    """What a model family hands the target proofs (`verify.verify_program`): its C library, how to write the
    test firmware's main for some rows, how to read the firmware's output, and the reference's answer
    per row. DWN (`verify_on_target`) and XGBoost (`baselines.xgb_target`) both come through here, so
    building, running, calibrating latency and measuring the model's share exist once."""

    __test__ = False  # not a pytest class

    name: str  # the model's C prefix
    sources: dict  # {file name: text}: the model library
    testbench: Callable  # (target, rows, with_model) -> main.c text
    parse: Callable  # firmware text -> {row index: output}
    expected: list  # per row, the reference's output (compared with ==)
    show: Callable = staticmethod(lambda v: v)  # an output as the mismatch report writes it
    # names of the inference's phases, in order, for a profile firmware (`testbench(..., marks=len - 1)`
    # and `render_profile_header`); empty: the family has no phase marks
    phases: tuple = ()


@dataclass(frozen=True)
class Firmware:
    elf: Path
    su_files: tuple[Path, ...]  # -fstack-usage output for the model's sources
    model_functions: frozenset  # functions defined in the model's sources (from the .su files)


def _run(cmd, cwd) -> None:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        first = next((m for m in msg if "overflowed" in m or "will not fit" in m), None) or \
            next((m for m in msg if "error" in m), msg[0] if msg else "")
        raise TargetError(f"{Path(str(cmd[0])).name} failed in {cwd}: {first}")


def build_firmware(target: Target, model_sources: dict, main_c: str, workdir, with_model: bool = True,
                   profile_header: str | None = None) -> Firmware:
    """Compile and link the test firmware in `workdir` (a fresh folder) and return the ELF.
    `model_sources` maps file names to text (`render_model_sources`); only base names are kept.
    `profile_header`: the text of `tb_profile.h`, force-included into the model's sources (a profile
    firmware; `render_profile_header`)."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    model_c = []
    if with_model:
        for fname, text in model_sources.items():
            dest = work / Path(fname).name
            dest.write_text(text)
            if dest.suffix == ".c":
                model_c.append(dest.name)
    (work / "main.c").write_text(main_c)
    tb = resource_dir("firmware_templates") / TEMPLATE_DIR
    sources = ["main.c", *model_c]
    extra, includes = [], ["-I."]
    if target.arch == "cortex-m":
        sources.append(str(tb / "startup_cortex_m.c"))
        extra = [f"-T{tb / 'cortex_m.ld'}"]
    elif target.arch == "rv32":
        sources.append(str(tb / "rv32_start.S"))
        extra = [f"-T{tb / 'rv32.ld'}"]
        includes.append(f"-I{tb / 'rv32_include'}")
    profile = []
    if profile_header is not None:
        (work / "tb_profile.h").write_text(profile_header)
        profile = ["-include", "tb_profile.h"]
    objs = []
    for src in sources:
        obj = Path(src).name.rsplit(".", 1)[0] + ".o"
        _run([target.cc, *target.cflags, *WARNINGS, *includes, *(profile if src in model_c else []), "-c", src,
              "-o", obj], work)
        objs.append(obj)
    _run([target.cc, *target.ldflags, *extra, *objs, *target.libs, "-o", "firmware.elf"], work)

    # Stack frames of the model's functions. LTO builds emit code only at link time, where GCC 5 keeps
    # no .su file, so the model is compiled once more without LTO for -fstack-usage; that compile also
    # holds the model to strict C99 (-std=c99 -pedantic, warnings as errors) with this cross compiler.
    su_files = []
    no_lto = [f for f in target.cflags if f not in ("-flto", "-fno-fat-lto-objects")]
    for src in model_c:
        stem = src.rsplit(".", 1)[0]
        _run([target.cc, *no_lto, "-std=c99", "-pedantic", *WARNINGS, "-fstack-usage", *includes, "-c", src,
              "-o", f"stack_{stem}.o"], work)
        su_files.append(work / f"stack_{stem}.su")
    funcs = set()
    for su in su_files:
        for line in su.read_text().splitlines():
            if "\t" in line:
                funcs.add(line.split("\t")[0].rsplit(":", 1)[-1])
    return Firmware(work / "firmware.elf", tuple(su_files), frozenset(funcs))
