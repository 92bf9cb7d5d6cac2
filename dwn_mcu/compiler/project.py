"""The whole build: board lookup -> lower (`Program`) -> render -> write, plus the report.

The project carries what `dwn-mcu verify` needs to prove it later without the caller's files:
`dwn/model.dwn` (a copy of the model) and `dwn/vectors.npy` (the verification vectors)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, DWNError
from ..frozen import FrozenDWN
from ..model_file import load, to_bytes
from ..synthetic import adversarial_inputs
from .boards import Board, get_board
from .budget import Budget, metadata_budget
from .cgen import c_identifier
from .host import as_inputs
from .lower import lower
from .program import Program
from .render import render_library, render_project
from .write import check_destination, write_tree


class ProjectError(DWNError):
    """A folder is not a complete dwn-mcu project (missing report, library, model copy or vectors)."""


MODEL_COPY = "dwn/model.dwn"
VECTORS = "dwn/vectors.npy"
REPORT = "dwn_report.json"


def render_model_sources(model: FrozenDWN, board="nano", name: str = "dwn_model", layout: str | None = None,
                         boards_dir=None, check_budget: bool = True, budget=None) -> dict[str, str]:
    """`{NAME.h: text, NAME.c: text}`: the model library alone (what test firmwares compile).
    `check_budget=False` skips the board's flash/RAM check (a test firmware on an emulator). `budget`
    (a `Budget`): the one the model was planned under, so that its decisions (the encoder's search among
    them) are the planned ones; None: the whole board."""
    program = lower(model, get_board(board, boards_dir), budget, name=name, layout=layout, optimize=False,
                    check_budget=check_budget)
    return render_library(program)


def report_dict(program: Program, selftest_count: int = 0) -> dict:
    """The build report: the program serialised (board, layout and why, flash and RAM by part, layers)."""
    model, plan = program.model, program.plan
    b = plan.board
    report = {
        "name": plan.name,
        "board": b.as_dict(),
        "layout": plan.layout,
        "layout_reason": plan.layout_reason,
        "flash": {"estimate": plan.flash_total, "budget": b.flash, "model": plan.model_flash,
                  "breakdown": dict(plan.flash), "by_layout": dict(plan.flash_by_layout)},
        "ram": {"estimate": plan.ram_total, "budget": b.ram, "model": plan.model_ram, "breakdown": dict(plan.ram)},
        "model": {
            "features": model.num_features, "classes": model.num_classes, "input_bits": model.num_input_bits,
            "layers": [{"luts": lp.num_luts, "inputs": lp.uniform_n if lp.uniform_n is not None else "mixed",
                        "reads_bits": lp.prev_bits, "table_bits": lp.table_bits,
                        "mapping": lp.map_format if plan.layout == "table" else "constants in code"}
                       for lp in plan.layers],
            "information_bits": model.size_bits(),
        },
        "score_type": plan.score_ctype,
        "input_type": plan.input_type,
        "selftest_vectors": selftest_count,
        "files": {"library": f"lib/{plan.name}", "model_copy": MODEL_COPY, "vectors": VECTORS},
        "optimizer": program.optimizer,
    }
    if program.budget is not None:
        report["budget"] = {"flash": program.budget.flash, "ram": program.budget.ram}
        if program.budget.latency is not None:  # the price it was held to (`dwn_mcu.latency`)
            from ..latency import program_latency, unit

            report["budget"]["latency"] = program.budget.latency
            report["latency"] = {"priced": program_latency(program), "unit": unit(b.arch)}
    return report


def summary(report: dict) -> str:
    f, r, b = report["flash"], report["ram"], report["board"]
    lines = [
        f"board   {b['name']} ({b['arch']}, {b['f_cpu'] / 1e6:g} MHz)",
        f"layout  {report['layout']}: {report['layout_reason']}",
        f"flash   {f['estimate']} of {b['flash']} bytes ({100 * f['estimate'] / b['flash']:.1f}%), model "
        f"{f['model']}: " + ", ".join(f"{k} {v}" for k, v in f["breakdown"].items()),
        f"RAM     {r['estimate']} of {b['ram']} bytes ({100 * r['estimate'] / b['ram']:.1f}%), model "
        f"{r['model']}: " + ", ".join(f"{k} {v}" for k, v in r["breakdown"].items()),
    ]
    opt = report.get("optimizer")
    if opt:
        b, a = opt["before"]["total_bits"], opt["after"]["total_bits"]
        lines.append(f"optimizer {b} -> {a} model bits ({100 * (b - a) / max(b, 1):.1f}% fewer): " + ", ".join(
            f"{k} {-v['total_bits']:+d}" for k, v in opt["removed"].items() if v["total_bits"]))
        if opt["ignored_features"]:
            lines.append(f"ignored features: {', '.join(opt['ignored_features'])}")
    for i, layer in enumerate(report["model"]["layers"], start=1):
        lines.append(f"layer {i} {layer['luts']} LUTs ({layer['inputs']} inputs), {layer['table_bits']} table bits, "
                     f"mapping {layer['mapping']}")
    return "\n".join(lines)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _model_inputs(model: FrozenDWN, X) -> np.ndarray:
    """Rows of model inputs in the C input type: float32, or the integer model's own NumPy type."""
    X = as_inputs(X, model.input_type).reshape(-1, model.num_features)
    return X.astype(np.float32 if model.input_type == "float32" else np.dtype(model.input_type))


def build_project(model: FrozenDWN, board, out_dir, name: str = "dwn_model", layout: str | None = None,
                  selftest_vectors=None, force: bool = False, boards_dir=None, verify_vectors=None,
                  optimize: bool = True, budget: Budget | None = None) -> dict:
    """Write a PlatformIO project for `model` on `board` into `out_dir`; return the report.

    Everything is checked (board, name, budget, destination) before anything is written.
    `optimize` first runs the exact netlist passes (`dwn_mcu.optimize`; the report's `optimizer` entry
    says what each removed). `budget` (default: the one the model was trained for on this board, in its
    metadata; else the whole board) is the model's share of flash and RAM; under a budget the layout is
    chosen as the budget search chooses it (`lower.choose`). `selftest_vectors` (N, F) are embedded in
    the sketch with the reference's answers; `verify_vectors` (default: adversarial inputs) are stored for
    `dwn-mcu verify` together with the self-test vectors."""
    model = model.validate()
    board = board if isinstance(board, Board) else get_board(board, boards_dir)
    budget = budget if budget is not None else metadata_budget(model, board)
    st = None if selftest_vectors is None else _model_inputs(model, selftest_vectors)
    st_count = 0 if st is None else st.shape[0]
    program = lower(model, board, budget, name=name, layout=layout, selftest_count=st_count, optimize=optimize)
    check_destination(out_dir, force)
    model = program.model
    files = render_project(program, st, _test_vectors(model, st))
    report = report_dict(program, st_count)
    vectors = _model_inputs(model, adversarial_inputs(model) if verify_vectors is None else verify_vectors)
    if st is not None:
        vectors = np.concatenate([vectors, st])
    files[MODEL_COPY] = to_bytes(model)
    files[VECTORS] = _npy(vectors)
    files[REPORT] = json.dumps(report, indent=2, sort_keys=True) + "\n"
    write_tree(out_dir, files, force)
    return report


def selftest_vectors(model: FrozenDWN, X=None, count: int = 16) -> np.ndarray:
    """`count` rows for the sketch's self-test: evenly spaced rows of X (the user's data) or, without data,
    of the adversarial inputs (NaN, infinities, values on thresholds, random rows). For an integer model
    X holds feature values (dataset rows), quantized here with the model's scale and offset."""
    if X is None:
        X = adversarial_inputs(model)
    elif model.input_type == "float32":
        X = np.asarray(X, dtype=np.float32)
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2 and X.shape[1] == model.num_features:
            X = model.quantize(X)
    if X.ndim != 2 or X.shape[1] != model.num_features:
        raise DataError(f"self-test data has shape {X.shape}, the model needs {model.num_features} features per row")
    if count <= 0 or X.shape[0] == 0:
        raise DataError("self-test needs at least one vector")
    rows = np.unique(np.linspace(0, X.shape[0] - 1, num=min(count, X.shape[0])).astype(np.int64))
    return X[rows]


def _test_vectors(model: FrozenDWN, st) -> np.ndarray:
    """The vectors of the project's own `pio test`: the self-test's, or 16 of the adversarial inputs."""
    return st if st is not None else _model_inputs(model, selftest_vectors(model))


@dataclass(frozen=True)
class Project:
    """What a generated project holds for verification: `load_project(out_dir)`. `vectors` are the
    verification vectors: those derived from the model (`derived_vectors`), then the rows of
    `dwn/vectors.npy` not among them; `stored_vectors` counts the file's rows."""

    root: Path
    name: str
    report: dict
    model: FrozenDWN
    vectors: np.ndarray
    lib_src: Path
    stored_vectors: int = 0


def derived_vectors(model: FrozenDWN) -> np.ndarray:
    """The vectors `build_project` stores by default, derived again from the model alone: its adversarial
    inputs (NaN, infinities, every threshold and one ulp either side, random rows) in the C input type."""
    return _model_inputs(model, adversarial_inputs(model))


def _unique_rows(X: np.ndarray) -> np.ndarray:
    """X's rows without repeats (bit patterns compared, so NaN rows too), first occurrences in order."""
    keys = X.view(np.uint32) if X.dtype == np.float32 else X
    _, first = np.unique(keys, axis=0, return_index=True)
    return X[np.sort(first)]


def verification_vectors(model: FrozenDWN, stored: np.ndarray) -> np.ndarray:
    """The vectors `verify` runs: the model's derived vectors first, then the stored ones. A project's
    vectors file can add vectors but never remove the derived ones, so editing the project cannot make a
    wrong library pass."""
    return _unique_rows(np.concatenate([derived_vectors(model), _model_inputs(model, stored)]))


def _stored_vectors(path: Path, model: FrozenDWN) -> np.ndarray:
    """`dwn/vectors.npy`, checked: readable without pickles, numbers, (N >= 1, F) rows of the model's inputs."""
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ProjectError(f"{path}: unreadable ({exc})") from None
    if vectors.dtype.kind not in "fiu":
        raise ProjectError(f"{path}: {vectors.dtype} values, expected numbers")
    if vectors.ndim != 2 or vectors.shape[1] != model.num_features:
        raise ProjectError(f"{path}: shape {vectors.shape} does not match {model.num_features} features")
    if vectors.shape[0] == 0:
        raise ProjectError(f"{path}: no vectors (0 rows)")
    try:
        return _model_inputs(model, vectors)
    except DataError as exc:
        raise ProjectError(f"{path}: {exc}") from None


def load_project(out_dir) -> Project:
    """Read a generated project's own files (report, model copy, vectors, library); DWNError if any is
    missing or malformed. The vectors are `verification_vectors`: the stored ones never replace those
    derived from the model."""
    root = Path(out_dir)
    report_path = root / REPORT
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        name = report["name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{report_path}: not a dwn-mcu project report ({exc})") from None
    c_identifier(name, f"{report_path}: name", ProjectError)
    lib_src = root / "lib" / name / "src"
    for need in (lib_src / f"{name}.c", lib_src / f"{name}.h", root / VECTORS):
        if not need.is_file():
            raise ProjectError(f"{root}: missing {need.relative_to(root)}")
    model = load(root / MODEL_COPY)
    stored = _stored_vectors(root / VECTORS, model)
    vectors = verification_vectors(model, stored)
    vectors = vectors.astype(np.float32 if model.input_type == "float32" else np.int64)
    return Project(root, name, report, model, vectors, lib_src, stored.shape[0])
