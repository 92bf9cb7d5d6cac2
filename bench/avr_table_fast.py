"""The table-driven layout on the ATmega328P (simavr, exact cycles): the AVR fast path against the plain
loop, in one run. The plain loop is what the planner falls back to when the fast path's byte array does
not fit the RAM budget; here it is forced with a copy of the Nano whose RAM is 1 byte.

Model: the phoneme shape of bench/avr_latency.py (5 features, 160 -> 80 LUTs of n = 6, 2 classes) with
`--bits` thresholds per feature: 24 (120 input bits: byte mapping entries in both layers, the default) or
60 (300 input bits: layer 1 reads 12-bit entries). Cycles per LUT as in bench/avr_latency.py: the whole
inference over the LUT count, and the marginal cost against the half model (80 -> 40) on 64 vectors.

    nice python bench/avr_table_fast.py [--bits 24]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from dwn_mcu.compiler import get_board, make_plan
from dwn_mcu.compiler.program import pack_program
from dwn_mcu.compiler.render import render_library
from dwn_mcu.data import load_dataset
from dwn_mcu.synthetic import random_model
from dwn_mcu.targets.verify import verify_on_target

NAME = "dwn_model"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, default=24, help="thresholds per feature (24: 120 input bits)")
    args = ap.parse_args(argv)
    X = load_dataset("phoneme").test_split()[0]

    def shape(luts):
        return random_model(seed=0, num_features=5, bits_per_feature=args.bits, luts=luts, n=6, num_classes=2)

    model, half = shape((160, 80)), shape((80, 40))
    luts, half_luts = 240, 120
    nano = get_board("nano")
    print(f"{model.num_input_bits} input bits, layers 160 -> 80 (n = 6), {X.shape[0]} phoneme test vectors")
    print("| path | fast layers | agreement | cycles min / median / max | per LUT whole / marginal "
          "| model flash B | model RAM B | stack B | planner flash / RAM B |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, board in (("plain loop", dataclasses.replace(nano, ram=1)), ("AVR fast path", nano)):
        def run(m, rows, share=True):
            plan = make_plan(m, board, NAME, "table", check_budget=False)
            sources = render_library(pack_program(m, plan))
            return plan, verify_on_target(m, "avr", rows, sources, NAME, measure_model_share=share)

        plan, r = run(model, X)
        _, h = run(half, X[:64], share=False)
        marginal = float(np.median(np.asarray(r.latency[:64]) - np.asarray(h.latency))) / (luts - half_luts)
        lat = r.latency_summary()
        print(f"| {label} | {sum(lp.avr_fast for lp in plan.layers)} of {len(plan.layers)} | "
              f"{100 * r.agreement:.2f}% | {lat['min']} / {lat['median']:g} / {lat['max']} | "
              f"{lat['median'] / luts:.1f} / {marginal:.1f} | {r.model_size.flash} | {r.model_size.ram} | "
              f"{r.stack_measured} | {plan.model_flash} / {plan.model_ram} |", flush=True)


if __name__ == "__main__":
    main()
