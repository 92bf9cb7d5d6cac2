"""Test accuracy of ONE default DWN configuration on the shared tabular datasets, mean over 3 seeds.

    DWN_MCU_DATA=../shared/datasets MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
        nice python bench/accuracy.py [--seeds 0,1,2] [--json out.json] [--luts 200] [--bits 16]

The configuration is `DWNClassifier`'s defaults unless overridden: one layer of 200 LUTs (rounded up to a
multiple of the classes), n = 6, 32 distributive thresholds per feature, learnable mapping, GroupSum
tau = sqrt(group)/2, Adam 1e-2, cosine schedule, at most 60 epochs, batch 128, 20% of the training rows
(stratified, per seed) held out for early stopping with patience 20. Accuracy is the NumPy reference's
on each dataset's test split; size is `FrozenDWN.size_bits()['total_bits']`.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from dwn_mcu import DWNClassifier
from dwn_mcu.data import load_dataset

DATASETS = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--luts", default=None, help="override, e.g. 50 or 500,250")
    ap.add_argument("--bits", type=int, default=None)
    ap.add_argument("--mapping", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    overrides = {}
    if args.luts:
        overrides["luts"] = tuple(int(v) for v in args.luts.split(","))
    if args.bits:
        overrides["bits"] = args.bits
    if args.mapping:
        overrides["mapping"] = args.mapping
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"machine: {platform.machine()}, 1 torch thread (the default); config overrides: {overrides or 'none'}")
    print("| dataset | test accuracy (mean ± sd) | per seed | size (bits) | epochs | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = {}
    for name in args.datasets.split(","):
        d = load_dataset(name)
        X_tr, y_tr = d.train_split()
        X_te, y_te = d.test_split()
        accs, sizes, epochs, secs = [], [], [], []
        for seed in seeds:
            t = time.perf_counter()
            clf = DWNClassifier(seed=seed, verbose=False, **overrides).fit(X_tr, y_tr)
            secs.append(time.perf_counter() - t)
            model = clf.freeze()
            accs.append(float(np.mean(model.predict(X_te) == y_te)))
            sizes.append(model.size_bits()["total_bits"])
            epochs.append(len(clf.history_))
        results[name] = {"accuracy": accs, "size_bits": sizes, "epochs": epochs, "seconds": secs}
        print(
            f"| {name} | {100 * np.mean(accs):.2f}% ± {100 * np.std(accs):.2f} | "
            f"{', '.join(f'{100 * a:.2f}' for a in accs)} | {np.mean(sizes):.0f} | "
            f"{', '.join(map(str, epochs))} | {np.mean(secs):.1f} |",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
                       "seeds": seeds, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
