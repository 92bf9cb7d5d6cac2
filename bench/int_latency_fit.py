"""The latency price of trained integer-input DWNs under one fit for every input type against the
integer-input fit (`latency.dwn_family`: `dwn_int`), the same programs in one run, each measured once
(simavr cycles on AVR, QEMU instructions on the Cortex-M0+ and M3).

Each model (an int16 `.dwn` from `train --input-type int16`, named after its dataset) runs on its
dataset's first test rows quantized by the model's own scale and offset, lowered as `build` lowers it
(the planner's encoder) and, with `--encoder table`, with the threshold-table encoder too. `--old F`: a
`latency_constants.py` from before the split (one `dwn` fit), whose `dwn` costs price the same features.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/int_latency_fit.py \\
        --old old_constants.py australian6.dwn pima6.dwn phoneme22.dwn segment22.dwn
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flash_per_lut import COMPILERS  # noqa: E402

from dwn_mcu import model_file  # noqa: E402
from dwn_mcu.architectures import ARCHITECTURES  # noqa: E402
from dwn_mcu.compiler.lower import lower  # noqa: E402
from dwn_mcu.compiler.render import render_library  # noqa: E402
from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.integer_inputs import quantize  # noqa: E402
from dwn_mcu.latency import dwn_features, price, program_latency  # noqa: E402
from dwn_mcu.targets.verify import verify_on_target  # noqa: E402


def old_costs(path: Path) -> dict:
    spec = importlib.util.spec_from_file_location("old_latency_constants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LATENCY


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--old", type=Path, required=True, help="latency_constants.py of the single fit")
    ap.add_argument("--arches", nargs="+", default=["avr", "cortex-m0plus", "cortex-m3"])
    ap.add_argument("--encoder", choices=("table",), default=None, help="also with the threshold-table encoder")
    ap.add_argument("--rows", type=int, default=32)
    args = ap.parse_args(argv)
    old = old_costs(args.old)
    print("| model | arch | encoder | unit | measured | one fit | error | integer fit | error | agree |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for path in args.models:
        model = model_file.load(path)
        X = load_dataset(path.stem.rstrip("0123456789")).test_split()[0][: args.rows]
        K = quantize(X, model.input_type, model.input_scale, model.input_offset)
        for arch in args.arches:
            for encoder in (None, args.encoder)[: 2 if args.encoder else 1]:
                program = lower(model, COMPILERS[arch][2], layout="unrolled", name="fit", check_budget=False,
                                encoder=encoder)
                r = verify_on_target(program.model, ARCHITECTURES[arch].target, K, render_library(program), "fit",
                                     measure_model_share=False)
                ok &= r.ok
                measured = float(np.median(r.latency))
                one, split = price(dwn_features(program), old[arch]["dwn"]), program_latency(program)
                print(f"| {path.stem} | {arch} | {program.plan.encoder_search} | {r.latency_unit} | {measured:g} | "
                      f"{one} | {(one - measured) / measured:+.1%} | {split} | {(split - measured) / measured:+.1%} | "
                      f"{r.agree}/{r.vectors} |", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
