"""Learnable reduction vs popcount on the Arduino Nano: test accuracy and the model's measured flash share.

For each dataset and seed, one DWN shape is trained twice, with the popcount output and with a learnable
reduction head (same LUT layers before it), then compiled for the Nano (optimizer as `build` runs it),
run in simavr on test rows (bit-for-bit check against the reference) and its flash share measured (the
AVR firmware with the model minus without it).

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/reduction.py [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np

from dwn_mcu import DWNClassifier
from dwn_mcu.compiler import get_board, render_model_sources
from dwn_mcu.compiler.lower import lower
from dwn_mcu.data import load_dataset
from dwn_mcu.targets.verify import verify_on_target


def run_one(ds, luts, reduction, seed, epochs, rows):
    X_tr, y_tr = ds.train_split()
    X_te, y_te = ds.test_split()
    clf = DWNClassifier(luts=luts, lut_inputs=6, bits=16, epochs=epochs, patience=10, seed=seed, verbose=False,
                        reduction=reduction)
    clf.fit(X_tr, y_tr, feature_names=ds.feature_names, class_names=ds.class_names)
    model = clf.freeze()
    acc = float(np.mean(model.predict(X_te) == y_te))
    small = lower(model, get_board("nano"), check_budget=False).model
    sources = render_model_sources(small, "nano", "bm")
    avr = verify_on_target(small, "avr", X_te[:rows], sources, "bm")
    assert avr.first_mismatch is None and avr.agree == avr.vectors
    return {"test_accuracy": acc, "flash": int(avr.model_size.flash),
            "cycles_mean": float(np.mean(avr.latency)), "luts": [layer.num_luts for layer in small.layers]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="phoneme,australian,pima")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--luts", default="60,20")
    p.add_argument("--reduction", default="4,3")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--rows", type=int, default=60, help="test rows run in simavr")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    luts = tuple(int(v) for v in a.luts.split(","))
    head = tuple(int(v) for v in a.reduction.split(","))
    results = []
    for name in a.datasets.split(","):
        ds = load_dataset(name)
        for seed in (int(s) for s in a.seeds.split(",")):
            for label, red in (("popcount", None), (f"reduction {a.reduction}", head)):
                r = run_one(ds, luts, red, seed, a.epochs, a.rows)
                results.append({"dataset": name, "seed": seed, "output": label, **r})
                print(json.dumps(results[-1]), flush=True)
    print(f"\nmachine: {platform.machine()} {platform.processor()}; luts {luts}, 6 inputs, 16 bits/feature, "
          f"{a.epochs} epochs\n")
    print("| dataset | output | test acc (mean over seeds) | Nano flash B (mean) | cycles/inference (mean) |")
    print("|---|---|---|---|---|")
    for name in a.datasets.split(","):
        for label in ("popcount", f"reduction {a.reduction}"):
            rs = [r for r in results if r["dataset"] == name and r["output"] == label]
            print(f"| {name} | {label} | {100 * np.mean([r['test_accuracy'] for r in rs]):.1f}% "
                  f"| {np.mean([r['flash'] for r in rs]):.0f} | {np.mean([r['cycles_mean'] for r in rs]):.0f} |")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
