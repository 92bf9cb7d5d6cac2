"""XGBoost's code and stack on each emulated architecture, for its record in `dwn_mcu/architectures.py`
(`xgb_code` = {"fixed", "per_margin"}, `xgb_stack`): the model's share of the test firmware's flash
(with the model minus without it) less its tables, and the deepest stack of an inference less the bins
and margins, over bench/calibrate_latency.py's XGBoost corpus. Prints each measurement and constants just
above all of them (the planner must never be below the chip). On the QEMU targets the model runs through
the test shim (`baselines.xgb_target.SHIM`), whose few bytes and frame are counted too: the safe side.

The inline layout (`--layout inline`) is priced by building its object (`baselines.object_size`); this
measures what the linked firmware adds beyond the object (the soft-float add, and the shim on QEMU:
`inline_lib_code`) and the stack beyond the object's frames (`inline_stack`).

    PYTHONPATH=$PWD python bench/xgb_code_size.py [--arches cortex-m0plus ...] [--layout inline] [--input int16]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate_latency import XGB_SHAPES, xgb_model  # noqa: E402

from dwn_mcu.architectures import ARCHITECTURES  # noqa: E402
from dwn_mcu.baselines.xgb_export import render_sources  # noqa: E402
from dwn_mcu.baselines.xgb_target import verify_on_target  # noqa: E402


def measure(arch: str, input_type: str = "float32") -> list:
    """(margins, code bytes, frame bytes) per model of the corpus on `arch`'s target."""
    out = []
    for i, shape in enumerate(XGB_SHAPES):
        tables, X = xgb_model(200 + i, *shape, input_type=input_type)
        r = verify_on_target(tables, ARCHITECTURES[arch].target, render_sources(tables, "xm"), "xm", X)
        if not r.ok:
            raise SystemExit(f"{arch} {shape}: disagrees with the reference: {r.first_mismatch}")
        M = tables.num_margins
        bins = tables.num_features * tables.node_rank.dtype.itemsize
        out.append((M, r.model_size.flash - tables.table_bytes, r.stack_measured - bins - 4 * M))
        print(f"{arch} {shape}: margins {M}, code {out[-1][1]} B, frame {out[-1][2]} B", flush=True)
    return out


def measure_inline(arch: str, input_type: str = "float32") -> dict:
    """`inline_lib_code` and `inline_stack` on `arch`: the most any model of the corpus needs."""
    from dwn_mcu.baselines.object_size import object_size

    board = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m3": "bluepill", "cortex-m4f": "nucleo_f401re"}[arch]
    lib, stack = [], []
    for i, shape in enumerate(XGB_SHAPES):
        tables, X = xgb_model(200 + i, *shape, input_type=input_type)
        sources = render_sources(tables, "xm", "inline")
        code, _, frame = object_size(sources, "xm", board, "XGBoost inline trees")
        r = verify_on_target(tables, ARCHITECTURES[arch].target, sources, "xm", X)
        if not r.ok:
            raise SystemExit(f"{arch} {shape} inline: disagrees with the reference: {r.first_mismatch}")
        lib.append(r.model_size.flash - code)
        stack.append(r.stack_measured - frame)
        print(f"{arch} {shape} inline: object {code} B, linked {r.model_size.flash} B, frame {frame} B, "
              f"stack {r.stack_measured} B", flush=True)
    return {"inline_lib_code": max(lib), "inline_stack": 4 * math.ceil(max(stack) / 4)}


def constants(rows: list) -> dict:
    """fixed + per_margin * M at or above every code measurement; the deepest frame, rounded up to 4."""
    one = max(code for M, code, _ in rows if M == 1)
    per = max([math.ceil((code - one) / (M - 1)) for M, code, _ in rows if M > 1] + [0])
    fixed = max(code - per * M for M, code, _ in rows)
    return {"fixed": fixed, "per_margin": per, "stack": 4 * math.ceil(max(f for *_, f in rows) / 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arches", nargs="+", default=[a for a, r in ARCHITECTURES.items() if r.target])
    ap.add_argument("--layout", choices=("table", "inline"), default="table")
    ap.add_argument("--input", choices=("float32", "int16"), default="float32",
                    help="the models' inputs: float32, or their int16 form (xgb_code_int16, xgb_stack_int16)")
    args = ap.parse_args(argv)
    for arch in args.arches:
        got = measure_inline(arch, args.input) if args.layout == "inline" else constants(measure(arch, args.input))
        print(f"{arch}: {got}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
