"""The whole build: board lookup -> plan -> pack/render -> write, plus the report.

The project carries what `dwn-mcu verify` needs to prove it later without the caller's files:
`dwn/model.dwn` (a copy of the model) and `dwn/vectors.npy` (the verification vectors)."""

from __future__ import annotations

import io
import json

import numpy as np

from ..frozen import FrozenDWN
from ..model_file import to_bytes
from ..synthetic import adversarial_inputs
from .boards import Board, get_board
from .plan import Plan, make_plan
from .render import render_library, render_project
from .write import check_destination, write_tree

MODEL_COPY = "dwn/model.dwn"
VECTORS = "dwn/vectors.npy"
REPORT = "dwn_report.json"


def render_model_sources(model: FrozenDWN, board="nano", name: str = "dwn_model", layout: str | None = None,
                         boards_dir=None) -> dict[str, str]:
    """`{NAME.h: text, NAME.c: text}`: the model library alone (what test firmwares compile)."""
    plan = make_plan(model, get_board(board, boards_dir), name, layout)
    return render_library(model.validate(), plan)


def report_dict(model: FrozenDWN, plan: Plan, selftest_count: int = 0) -> dict:
    b = plan.board
    return {
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
                        "reads_bits": lp.prev_bits, "table_bits": lp.table_bits, "mapping_type": lp.map_ctype}
                       for lp in plan.layers],
            "information_bits": model.size_bits(),
        },
        "score_type": plan.score_ctype,
        "selftest_vectors": selftest_count,
        "files": {"library": f"lib/{plan.name}", "model_copy": MODEL_COPY, "vectors": VECTORS},
    }


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
    for i, layer in enumerate(report["model"]["layers"], start=1):
        lines.append(f"layer {i} {layer['luts']} LUTs ({layer['inputs']} inputs), {layer['table_bits']} table bits, "
                     f"mapping {layer['mapping_type']}")
    return "\n".join(lines)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def build_project(model: FrozenDWN, board="nano", out_dir="out", name: str = "dwn_model", layout: str | None = None,
                  selftest_vectors=None, force: bool = False, boards_dir=None, verify_vectors=None) -> dict:
    """Write a PlatformIO project for `model` on `board` into `out_dir`; return the report.

    Everything is checked (board, name, budget, destination) before anything is written.
    `selftest_vectors` (N, F) are embedded in the sketch with the reference's answers; `verify_vectors`
    (default: adversarial inputs) are stored for `dwn-mcu verify` together with the self-test vectors."""
    model = model.validate()
    board = board if isinstance(board, Board) else get_board(board, boards_dir)
    st = None if selftest_vectors is None else np.asarray(selftest_vectors, np.float32).reshape(-1, model.num_features)
    plan = make_plan(model, board, name, layout, selftest_count=0 if st is None else st.shape[0])
    check_destination(out_dir, force)
    files = render_project(model, plan, st)
    report = report_dict(model, plan, 0 if st is None else st.shape[0])
    vectors = adversarial_inputs(model) if verify_vectors is None else np.asarray(verify_vectors, np.float32)
    if st is not None:
        vectors = np.concatenate([vectors, st])
    files[MODEL_COPY] = to_bytes(model)
    files[VECTORS] = _npy(vectors.astype(np.float32))
    files[REPORT] = json.dumps(report, indent=2, sort_keys=True) + "\n"
    write_tree(out_dir, files, force)
    return report
