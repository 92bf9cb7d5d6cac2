"""`train`'s default shape: the old fixed one (200 LUTs, 32 thresholds per feature) against the rule that
sizes it from the data (dwn_mcu/default_shape.py), test accuracy of the NumPy reference, per seed.

    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 DWN_MCU_DATA=../shared/datasets \
        nice python bench/default_shape.py [--sets letter26,letter26-small,digits,segment] [--seeds 0,1]

Sets: `letter26`, a synthetic stand-in for UCI letter (26 classes, 16 features, 20000 rows; scikit-learn's
make_classification, seed 0, 80/20 stratified split) -- no shared dataset has 26 classes; `letter26-small`,
the first 1600 of its rows (1280 for training: the rows cap acts); `digits` (scikit-learn's 8x8 digits, 10
classes, 64 features, 80/20 split seed 0); shared sets by name. Shapes per set: `old`, `rule`, and with
`--per-class 16,64` the rule with other LUTS_PER_CLASS values, and `uncapped` (the rule without the rows
cap) where the cap acts. Everything else is `train`'s defaults (60 epochs at most, patience 20, 1 thread).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from dwn_mcu import DWNClassifier, default_shape
from dwn_mcu.data import load_dataset, stratified_split


def _split(X, y):
    is_test = stratified_split(y, 0.2, 0)
    return X[~is_test], y[~is_test], X[is_test], y[is_test]


def load_set(name):
    if name.startswith("letter26"):
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=20000, n_features=16, n_informative=12, n_redundant=2,
                                   n_classes=26, n_clusters_per_class=1, class_sep=1.5, random_state=0)
        X, y = X.astype(np.float32), y.astype(np.int64)
        if name == "letter26-small":
            X, y = X[:1600], y[:1600]
        return _split(X, y)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return _split(d.data.astype(np.float32), d.target.astype(np.int64))
    d = load_dataset(name)
    return (*d.train_split(), *d.test_split())


def shapes(rows, features, classes, per_class):
    rule = default_shape.default_shape(rows, features, classes)
    out = {"old": default_shape.Shape((200,), 6, 32), "rule": rule}
    saved = default_shape.LUTS_PER_CLASS
    try:
        for g in per_class:
            default_shape.LUTS_PER_CLASS = g
            out[f"{g}/class"] = default_shape.default_shape(rows, features, classes)
    finally:
        default_shape.LUTS_PER_CLASS = saved
    # the rule without its rows cap: step 1's LUTs whatever the rows
    total = max(default_shape.BASE_LUTS, classes * default_shape.LUTS_PER_CLASS)
    uncapped = default_shape.default_shape(rows, features, classes, luts=(-(-total // classes) * classes,))
    if uncapped.luts != rule.luts:
        out["uncapped"] = uncapped
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="letter26,letter26-small,digits,segment")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--per-class", default="", help="other LUTs-per-class values to measure, e.g. 16,64")
    ap.add_argument("--shapes", default="", help="only these shapes, e.g. 16/class,uncapped (default: all)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    per_class = [int(v) for v in args.per_class.split(",") if v]
    print(f"machine: {platform.machine()} {platform.processor() or ''}, 1 torch thread; seeds {seeds}")
    print("| set | train rows / features / classes | shape | LUTs / bits | test accuracy per seed | mean | s per fit |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets.split(","):
        X_tr, y_tr, X_te, y_te = load_set(name)
        C = int(np.unique(y_tr).size)
        for label, shape in shapes(X_tr.shape[0], X_tr.shape[1], C, per_class).items():
            if args.shapes and label not in args.shapes.split(","):
                continue
            accs, start = [], time.perf_counter()
            for seed in seeds:
                clf = DWNClassifier(luts=shape.luts, lut_inputs=shape.lut_inputs, bits=shape.bits, seed=seed,
                                    verbose=False, device="cpu").fit(X_tr, y_tr)
                accs.append(float(np.mean(clf.freeze().predict(X_te) == y_te)))
            secs = (time.perf_counter() - start) / len(seeds)
            print(f"| {name} | {X_tr.shape[0]} / {X_tr.shape[1]} / {C} | {label} | {clf.luts_[0]} / {shape.bits} | "
                  f"{', '.join(f'{a:.4f}' for a in accs)} | {np.mean(accs):.4f} | {secs:.0f} |", flush=True)


if __name__ == "__main__":
    main()
