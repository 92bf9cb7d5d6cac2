"""Layer 1 reading the encoder's ranks (`plan.rank_inputs`, issue 14) against reading thermometer bits,
the same models in the same run, on AVR (simavr cycles) and the Cortex-M0+ (QEMU instructions).

Each model (.dwn files named <dataset>*.dwn, run on that dataset's first test rows) is lowered with the
unrolled layout (`lower`, exact passes on, as `build` does) for the architecture's board twice: as the
planner decides (layer 1 compares `rank[f] > i`, the encoder writes only the ranks), and with the
planner's `rank_inputs` replaced for the run by "no" (the immediate encoder writes the thermometer bits
and layer 1 tests them, the firmware as it was). `--encoder table`: both with the threshold-table
encoder (what a tight flash budget gets), whose search then stores the ranks, or writes the bits. Per run: the whole inference (median of the plain
firmware over the rows), the profile firmware's median encoder phase and layers phase (and that per
LUT), the model object's flash (gcc -Os, `bench/flash_per_lut.object_flash`), the planner's model flash
and latency price, and agreement with the NumPy reference on every row.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/rank_inputs.py phoneme50.dwn pima14.dwn
        [--rows 32] [--arches avr cortex-m0plus] [--encoder table] [-o table.md]
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
from dwn_mcu.compiler import plan as plan_module  # noqa: E402
from dwn_mcu.compiler.lower import lower  # noqa: E402
from dwn_mcu.compiler.render import render_library  # noqa: E402
from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.latency import program_latency  # noqa: E402
from dwn_mcu.targets.verify import verify_on_target  # noqa: E402

ARCHES = ("avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "riscv32")
MODES = ("bits", "ranks")
DECIDE = plan_module.rank_inputs


def run(model, X, arch: str, mode: str, encoder: str | None = None) -> dict:
    if mode == "bits":
        plan_module.rank_inputs = lambda *a, **k: (False, "layer 1 reads thermometer bits (bench)")
    try:
        program = lower(model, COMPILERS[arch][2], layout="unrolled", name="bench", check_budget=False,
                        encoder=encoder)
    finally:
        plan_module.rank_inputs = DECIDE
    assert program.plan.rank_inputs == (mode == "ranks"), (mode, program.plan.rank_reason)
    sources = render_library(program)
    flash = object_flash({k.split("/")[-1]: v for k, v in sources.items()}, "bench", arch)
    r = verify_on_target(program.model, ARCHITECTURES[arch].target, X, sources, "bench", measure_model_share=False)
    med = r.profile["median"]
    luts = sum(layer.num_luts for layer in program.model.layers)
    layers = sum(v for k, v in med.items() if k.startswith("layer"))
    try:
        price = program_latency(program)
    except Exception as e:  # an architecture without a price
        price = f"({type(e).__name__})"
    return {"arch": arch, "mode": mode, "luts": luts, "features": program.model.num_features,
            "bits": program.model.num_input_bits, "unit": r.latency_unit, "median": float(np.median(r.latency)),
            "encoder": med.get("encoder"), "layers": layers, "flash": flash, "estimate": program.plan.model_flash,
            "price": price, "agree": f"{r.agree}/{r.vectors}", "ok": r.agree == r.vectors}


def markdown(rows: list[dict]) -> str:
    head = ["model", "arch", "layer 1 reads", "features / bits / LUTs", "unit", "per inference", "encoder phase",
            "layers phase", "layers per LUT", "object flash", "planner flash", "planner price", "agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(map(str, [
            r["model"], r["arch"], r["mode"], f"{r['features']} / {r['bits']} / {r['luts']}", r["unit"],
            f"{r['median']:g}", f"{r['encoder']:g}", f"{r['layers']:g}", f"{r['layers'] / r['luts']:.1f}",
            r["flash"], r["estimate"], r["price"], r["agree"]])) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help=".dwn files named after their dataset")
    ap.add_argument("--rows", type=int, default=32, help="test rows per model")
    ap.add_argument("--arches", nargs="+", default=["avr", "cortex-m0plus"], choices=ARCHES)
    ap.add_argument("--encoder", choices=("table", "immediate"), default=None,
                    help="the encoder's search (default: the planner's; table: what a tight flash budget gets)")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for path in args.models:
        model = model_file.load(path)
        dataset = path.stem.rstrip("0123456789")
        X = load_dataset(dataset).test_split()[0][: args.rows]
        for arch in args.arches:
            for mode in MODES:
                row = run(model, X, arch, mode, args.encoder)
                row["model"] = path.stem
                rows.append(row)
                print(f"{path.stem} {arch} {mode}: {row['median']:g} {row['unit']}, encoder {row['encoder']:g}, "
                      f"flash {row['flash']}, {row['agree']}", file=sys.stderr, flush=True)
    text = f"Machine: {platform.platform()}, Python {platform.python_version()}\n\n" + markdown(rows)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
