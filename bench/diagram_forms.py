"""Per-LUT cost of the unrolled layout's two LUT forms (issue 14): table form, diagram form, and the
planner's per-LUT choice, on every emulated target.

For each model (.dwn files named <dataset>*.dwn, run on that dataset's first test rows), lowered for a board of
each architecture with the unrolled layout (`lower`, exact passes on, as `build` does) three times: every
LUT in table form, every LUT in diagram form (the planner's `lut_forms` replaced for the run), and as the
planner chooses. Per run: the layers' phase of the profile firmware (median over the vectors `verify`
profiles: cycles in simavr, instructions in QEMU) divided by the LUTs, the model object's flash (code,
tables, constants: avr-gcc / arm-none-eabi-gcc / riscv gcc -Os, `bench/flash_per_lut.object_flash`) and
that divided by the LUTs, the planner's model flash estimate, and agreement with the NumPy reference on
every row. Last, per architecture, a least-squares fit of the diagram form's code bytes (`u_diag_lut`
per LUT + `u_diag_node` per node: `architectures.py`) from the difference between the all-diagram and the
all-table objects.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/diagram_forms.py ref.dwn small*.dwn [--rows 64]
        [--arches avr ...] [--modes table diagram chosen]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flash_per_lut import COMPILERS, object_flash  # noqa: E402

from dwn_mcu import model_file  # noqa: E402
from dwn_mcu.architectures import ARCHITECTURES  # noqa: E402
from dwn_mcu.compiler import bdd, plan as plan_module  # noqa: E402
from dwn_mcu.compiler.lower import lower  # noqa: E402
from dwn_mcu.compiler.plan import table_form_price  # noqa: E402
from dwn_mcu.compiler.render import render_library  # noqa: E402
from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.targets.verify import verify_on_target  # noqa: E402

ARCHES = ("avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "riscv32")
MODES = ("table", "diagram", "chosen")
CHOOSE = plan_module.lut_forms


def forced(mode: str):
    """A replacement for `plan.lut_forms` that puts every LUT in one form (None: the planner's rule)."""
    if mode == "chosen":
        return CHOOSE
    return lambda layer, lp, arch: plan_module.replace(lp, diagram_luts=(mode == "diagram",) * lp.num_luts,
                                                       form_reason=f"every LUT in {mode} form (bench)")


def run(model, X, arch: str, mode: str) -> dict:
    plan_module.lut_forms = forced(mode)
    try:
        program = lower(model, COMPILERS[arch][2], layout="unrolled", name="bench", check_budget=False)
    finally:
        plan_module.lut_forms = CHOOSE
    sources = render_library(program)
    flash = object_flash({k.split("/")[-1]: v for k, v in sources.items()}, "bench", arch)
    r = verify_on_target(program.model, ARCHITECTURES[arch].target, X, sources, "bench", measure_model_share=False)
    luts = sum(layer.num_luts for layer in program.model.layers)
    layers = sum(v for k, v in r.profile["median"].items() if k.startswith("layer"))
    diag = [(layer, lp) for layer, lp in zip(program.model.layers, program.plan.layers)]
    nodes = sum(bdd.diagram(layer.lut_table(j)).size for layer, lp in diag for j in range(layer.num_luts)
                if lp.diagram_luts and lp.diagram_luts[j])
    table_price = sum(table_form_price(int(layer.n_inputs[j]), lp.unrolled_asm, ARCHITECTURES[arch].dwn_code, {})[0]
                      for layer, lp in diag for j in range(layer.num_luts))
    return {"arch": arch, "mode": mode, "luts": luts, "unit": r.latency_unit, "layers": layers, "flash": flash,
            "estimate": program.plan.model_flash, "agree": f"{r.agree}/{r.vectors}", "ok": r.agree == r.vectors,
            "diagram_luts": sum(sum(lp.diagram_luts) for lp in program.plan.layers), "nodes": nodes,
            "table_price": table_price, "median": float(np.median(r.latency))}


def fit_diagram_code(rows: list[dict]) -> dict:
    """Per architecture: (u_diag_lut, u_diag_node) from all-diagram minus all-table objects of each model."""
    out = {}
    for arch in ARCHES:
        pairs = [(d, t) for d in rows if d["arch"] == arch and d["mode"] == "diagram"
                 for t in rows if t["arch"] == arch and t["mode"] == "table" and t["model"] == d["model"]]
        if len(pairs) < 2:
            continue
        A = np.array([[d["luts"], d["nodes"]] for d, _ in pairs], dtype=float)
        y = np.array([d["flash"] - t["flash"] + t["table_price"] for d, t in pairs], dtype=float)
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        out[arch] = (round(float(coef[0]), 1), round(float(coef[1]), 2), float(np.max(np.abs(A @ coef - y))))
    return out


def markdown(rows: list[dict]) -> str:
    head = ["model", "arch", "form", "LUTs (diagram)", "nodes", "layers per LUT", "unit", "per inference",
            "object flash", "bytes per LUT (object / LUTs)", "planner estimate", "agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(map(str, [
            r["model"], r["arch"], r["mode"], f"{r['luts']} ({r['diagram_luts']})", r["nodes"],
            f"{r['layers'] / r['luts']:.1f}", r["unit"], f"{r['median']:g}", r["flash"],
            f"{r['flash'] / r['luts']:.1f}", r["estimate"], r["agree"]])) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help=".dwn files named after their dataset")
    ap.add_argument("--rows", type=int, default=64, help="test rows per model")
    ap.add_argument("--arches", nargs="+", default=list(ARCHES), choices=ARCHES)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for path in args.models:
        dataset = next(d for d in ("phoneme", "segment", "banana", "australian", "pima", "wisconsin")
                       if path.name.startswith(d))
        X = load_dataset(dataset).test_split()[0][: args.rows]
        model = model_file.load(path)
        for arch in args.arches:
            for mode in args.modes:
                r = run(model, X, arch, mode)
                r["model"] = path.stem
                rows.append(r)
                print(r, file=sys.stderr, flush=True)
    fits = fit_diagram_code(rows)
    text = markdown(rows) + "\n\nDiagram form code (u_diag_lut, u_diag_node, worst residual bytes): " + \
        "; ".join(f"{a}: {v[0]} + {v[1]} per node ({v[2]:.0f})" for a, v in fits.items()) + \
        f"\n\nmachine: {platform.platform()}, python {platform.python_version()}\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
