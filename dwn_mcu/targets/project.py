"""Verify a generated project (`dwn-mcu build` output) on emulated targets: the project's own model
library, its stored vectors, the planner's estimates checked against the linked ELF, and, on AVR, the
Arduino sketch (`src/main.cpp`) itself. `project` is `dwn_mcu.compiler.project.load_project(out_dir)`
(root, name, report, model, vectors, lib_src)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..architectures import ARCHITECTURES
from ..compiler.plan import CTYPE_BYTES
from ..atomic_write import write_file
from .arduino import build_sketch, run_sketch
from .sketch_protocol import expected, parse_answer, row_line
from .toolchains import TARGETS, TargetError, arduino_core_missing, get_target
from .verify import TargetResult, require_toolchain, verify_on_target

#: The planner's estimate may differ from the ELF by at most this share.
PLAN_TOLERANCE = 0.10
#: Feature lines typed into the sketch's serial port (each costs about 1 ms of simulated UART time).
SKETCH_VECTORS = 12


def default_target(report: dict) -> str:
    """The target for the project's board, or `host` when no emulator here runs its chip (the `avr`
    target is the ATmega328P; an ATtiny85 project is checked on the host unless asked otherwise)."""
    board = report.get("board", {})
    arch = ARCHITECTURES.get(board.get("arch", ""))
    target = (arch.target if arch else None) or "host"
    if target == "avr" and board.get("mcu", "atmega328p") != "atmega328p":
        return "host"
    return target


def expand_targets(choice: str, report: dict) -> list[str]:
    """Targets to run for `--target choice`. The default is the host proof plus the project's board
    (its emulated chip, when there is one)."""
    if choice in (None, "", "board"):
        return list(dict.fromkeys(["host", default_target(report)]))
    if choice == "all":
        return ["host", *TARGETS]
    return [choice]


def library_sources(lib_src: Path) -> dict:
    return {p.name: p.read_text() for p in sorted(Path(lib_src).iterdir()) if p.suffix in (".c", ".h")}


@dataclass
class PlanCheck:
    """The planner's model flash/RAM estimates against the measured ones (same architecture only)."""

    flash_estimate: int
    flash_measured: int
    ram_estimate: int
    ram_measured: int  # ELF share + deepest stack of an inference + the caller's score array

    @staticmethod
    def _off(est, meas):
        return abs(est - meas) / max(meas, 1)

    @property
    def flash_off(self) -> float:
        return self._off(self.flash_estimate, self.flash_measured)

    @property
    def ram_off(self) -> float:
        return self._off(self.ram_estimate, self.ram_measured)

    @property
    def ok(self) -> bool:
        return self.flash_off <= PLAN_TOLERANCE and self.ram_off <= PLAN_TOLERANCE


def plan_check(result: TargetResult, report: dict, score_bytes: int) -> PlanCheck | None:
    if result.model_size is None or "model" not in report.get("flash", {}):
        return None
    stack = result.stack_measured if result.stack_measured is not None else result.stack_static
    return PlanCheck(int(report["flash"]["model"]), result.model_size.flash, int(report["ram"]["model"]),
                     result.model_size.ram + stack + score_bytes)


def decimal_safe_rows(model, X, rel: float = 1e-5) -> np.ndarray:
    """Rows whose every feature is finite and farther than `rel` (relative) from each of its thresholds.
    The sketch reads decimal text with avr-libc's `strtod`, which is not correctly rounded (measured: a
    value one ulp from a threshold can come out on the other side), so rows on a threshold's edge prove
    the parser, not the model; the sketch's embedded self-test covers those with exact bit patterns."""
    if model.input_type != "float32":
        return np.asarray(X, dtype=np.int64)  # integers travel exactly as decimal text (strtol)
    X = np.asarray(X, dtype=np.float32)
    keep = np.all(np.isfinite(X), axis=1)
    for f, t in enumerate(model.feature_thresholds):
        if t.size:
            gap = np.abs(X[:, f, None].astype(np.float64) - t[None, :].astype(np.float64))
            scale = np.maximum(np.abs(t[None, :]).astype(np.float64), 1e-30)
            keep &= np.all(gap > rel * scale, axis=1)
    return X[keep]


@dataclass
class SketchResult:
    vectors: int
    agree: int
    first_mismatch: dict | None
    selftest: str | None  # the sketch's "selftest ..." line, when it has one

    @property
    def ok(self) -> bool:
        proven = self.vectors > 0 or self.selftest is not None
        return proven and self.agree == self.vectors and (self.selftest is None or "PASS" in self.selftest)


def verify_sketch(project, count: int = SKETCH_VECTORS, workdir=None, elf=None) -> SketchResult:
    """Build `src/main.cpp` with the project's library for the Nano (or take `elf`, a firmware already
    built from it, such as PlatformIO's), type `count` of its vectors into the serial port in simavr and
    compare the printed `class C scores ...` lines with the reference."""
    missing = arduino_core_missing()
    if missing and elf is None:
        raise TargetError(f"Arduino sketch: missing {', '.join(missing)}")
    model = project.model
    X = decimal_safe_rows(model, project.vectors)[:count]
    lines = "".join(row_line(model, row) for row in X)
    banner = 1 if project.report.get("selftest_vectors") else 0
    with tempfile.TemporaryDirectory(prefix="dwn_sketch_") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        if elf is None:
            elf = build_sketch((Path(project.root) / "src" / "main.cpp").resolve(), [Path(project.lib_src).resolve()],
                               work)
        out = run_sketch(elf, lines, banner_lines=banner, workdir=work)
    return sketch_agreement(model, X, out.text)


def sketch_agreement(model, X, text: str) -> SketchResult:
    """Compare a sketch's answer lines (in `text`, one per row of `X`, in order) with the reference."""
    answers = [a for a in (parse_answer(line, model.num_classes) for line in text.splitlines()) if a is not None]
    selftest = next((line.strip() for line in text.splitlines() if line.startswith("selftest")), None)
    agree, first = 0, None
    for i, exp in enumerate(expected(model, X)):
        got = answers[i].values() if i < len(answers) else None
        if got == exp:
            agree += 1
        elif first is None:
            first = {"index": i, "features": X[i].tolist(), "expected": exp, "got": got}
    return SketchResult(X.shape[0], agree, first, selftest)


def _score_array_bytes(report: dict, num_classes: int) -> int:
    """The caller's score array, as the build planned it (the report's RAM part `scores`; a report without
    it: the size of its score type)."""
    planned = report.get("ram", {}).get("breakdown", {}).get("scores")
    if isinstance(planned, int) and not isinstance(planned, bool):
        return planned
    return CTYPE_BYTES.get(report.get("score_type"), 2) * num_classes


def verify_project_target(project, target_name: str, max_vectors: int | None = None) -> dict:
    """Run the project's library on one emulated target; a dict for the table and the report."""
    target = get_target(target_name)
    require_toolchain(target)
    X = project.vectors if max_vectors is None else project.vectors[:max_vectors]
    result = verify_on_target(project.model, target.name, X, library_sources(project.lib_src), project.name)
    row = {"result": result, "plan": None, "sketch": None}
    report = project.report
    if default_target(report) == target.name:
        row["plan"] = plan_check(result, report, _score_array_bytes(report, project.model.num_classes))
        if target.name == "avr" and (Path(project.root) / "src" / "main.cpp").is_file():
            row["sketch"] = verify_sketch(project)
    return row


def row_ok(row: dict) -> bool:
    r = row["result"]
    return (r.ok and not r.model_data_symbols and (row["plan"] is None or row["plan"].ok)
            and (row["sketch"] is None or row["sketch"].ok))


def row_dict(row: dict) -> dict:
    out = row["result"].as_dict()
    p, s = row["plan"], row["sketch"]
    if p is not None:
        out["plan_check"] = {"flash_estimate": p.flash_estimate, "flash_measured": p.flash_measured,
                             "ram_estimate": p.ram_estimate, "ram_measured": p.ram_measured,
                             "flash_off": round(p.flash_off, 4), "ram_off": round(p.ram_off, 4), "ok": p.ok}
    if s is not None:
        out["sketch"] = {"vectors": s.vectors, "agree": s.agree, "first_mismatch": s.first_mismatch,
                         "selftest": s.selftest, "ok": s.ok}
    return out


def format_phases(profile: dict) -> str:
    """One line: the profile firmware's median per phase (`verify.profile_phases`)."""
    parts = ", ".join(f"{name} {count:g}" for name, count in profile["median"].items())
    return (f"per phase (median {profile['unit']}, {profile['vectors']} vectors, marks included): {parts}; "
            f"{profile['total_median']:g} in all (the marks: {profile['marks_cost_median']:g})")


def format_table(rows: list[dict]) -> str:
    """target, vectors, agreement, flash, RAM, stack, latency per inference (median, min..max)."""
    head = f"{'target':<14} {'vectors':>7} {'agreement':>9} {'flash':>7} {'RAM':>6} {'stack':>5}  latency per inference"
    lines = [head]
    for row in rows:
        r = row["result"]
        lat = r.latency_summary()
        latency = (f"{lat['median']:g} {r.latency_unit} (min {lat['min']}, max {lat['max']})" if lat else "-")
        stack = r.stack_measured if r.stack_measured is not None else r.stack_static
        lines.append(f"{r.target:<14} {r.vectors:>7} {100 * r.agreement:>8.2f}% {r.size.flash:>7} {r.size.ram:>6} "
                     f"{stack:>5}  {latency}")
        if r.model_size is not None:
            lines.append(f"{'':<14} model's share: flash {r.model_size.flash} B, RAM {r.model_size.ram} B")
        if r.profile:
            lines.append(f"{'':<14} {format_phases(r.profile)}")
        if r.model_data_symbols:
            lines.append(f"{'':<14} DEFECT: model tables in AVR .data (RAM): {r.model_data_symbols}")
        p = row.get("plan")
        if p is not None:
            lines.append(f"{'':<14} planner: flash {p.flash_estimate} vs {p.flash_measured} measured "
                         f"({100 * p.flash_off:.1f}% off), RAM {p.ram_estimate} vs {p.ram_measured} "
                         f"({100 * p.ram_off:.1f}% off){'' if p.ok else ' OVER 10%'}")
        s = row.get("sketch")
        if s is not None:
            lines.append(f"{'':<14} Arduino sketch (Nano, simavr): {s.agree}/{s.vectors} serial lines agree"
                         + (f"; {s.selftest}" if s.selftest else ""))
    return "\n".join(lines)


def write_report(root, rows: list[dict], extra: dict | None = None) -> None:
    """Add the target results (and `extra` entries, such as the host proof) to the project's
    `dwn_report.json` under `targets` (written to a temporary file, then moved into place)."""
    path = Path(root) / "dwn_report.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    targets = report.setdefault("targets", {})
    for row in rows:
        targets[row["result"].target] = row_dict(row)
    targets.update(extra or {})
    write_file(path, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode("utf-8"))
