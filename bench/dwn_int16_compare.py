"""The same trained DWNs built as `compare` built them before (float32 firmware inputs) and as it builds them
now (int16 inputs, `integer_inputs.Quantization.model`), on the Arduino Nano (ATmega328P, simavr cycles).

Per dataset: compare's rows (the int16 scaling fitted on the training rows minus compare's stratified 20%
validation split, seed 0), each shape trained once on the float32 values the integers stand for
(`budget_search.search_dwn` with that one shape), then priced and built under the flash budget twice: the
float model, run on the float rows, and its int16 twin, run on the int16 rows. Per build: the layout, the
model's measured flash and RAM (the linked ELF's share), the median cycles over the test rows, the priced
latency, and agreement with the reference on every test row (both predict the same classes: the twin is
exact on those rows).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/dwn_int16_compare.py \
        [--datasets phoneme segment banana pima] [--budget 2048] [--rows 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwn_mcu.budget_search import DWNShape, search_dwn  # noqa: E402
from dwn_mcu.compiler import Budget, get_board, render_model_sources  # noqa: E402
from dwn_mcu.compiler.lower import lower  # noqa: E402
from dwn_mcu.data import load_data, stratified_split  # noqa: E402
from dwn_mcu.integer_inputs import Quantization  # noqa: E402
from dwn_mcu.latency import program_latency  # noqa: E402
from dwn_mcu.targets.verify import verify_on_target  # noqa: E402

SHAPES = ((6, 14, 32), (6, 50, 32), (4, 70, 64))  # n, LUTs (rounded down to a multiple of the classes), bits


def build(model, board, budget: Budget, X) -> dict:
    program = lower(model, board, budget, name="m", check_budget=False)
    sources = render_model_sources(program.model, board, "m", program.plan.layout, budget=budget)
    r = verify_on_target(program.model, "avr", X, sources, "m")
    return {"layout": program.plan.layout, "flash": r.model_size.flash, "ram": r.model_size.ram,
            "cycles": r.latency_summary()["median"], "priced": program_latency(program),
            "agree": f"{r.agree}/{r.vectors}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["phoneme", "segment", "banana", "pima"])
    ap.add_argument("--budget", type=int, default=2048)
    ap.add_argument("--rows", type=int, default=200, help="test rows run on the emulator")
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args()
    board = get_board("nano")
    print("| dataset | shape | inputs | layout | flash B | RAM B | cycles (median) | priced | agree |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.datasets:
        data = load_data(dataset=name)
        X, y = data.train_split()
        Xt, _ = data.test_split()
        val = stratified_split(y, 0.2, seed=0)
        q = Quantization.fit(X[~val], "int16")
        Xf, Kt = q.features(q.rows(X)), q.rows(Xt)[: args.rows]
        for n, luts, bits in SHAPES:
            shape = DWNShape(n, (max(1, luts // data.num_classes) * data.num_classes,), bits)
            try:
                r = search_dwn(Xf[~val], y[~val], Xf[val], y[val], data.num_classes, board, args.budget,
                               shapes=[shape], epochs=args.epochs)
            except Exception as exc:  # a shape the budget does not take: said so, the others run
                print(f"| {name} | {shape} | - | {exc} | | | | | |")
                continue
            budget = Budget(r.flash_budget, r.ram_budget)
            for label, model, rows in (("float32", r.trained, q.features(Kt)), ("int16", q.model(r.trained), Kt)):
                m = build(model, board, budget, rows)
                print(f"| {name} | {shape} | {label} | {m['layout']} | {m['flash']:,} | {m['ram']} | "
                      f"{m['cycles']:,.0f} | {m['priced']:,} | {m['agree']} |", flush=True)


if __name__ == "__main__":
    main()
