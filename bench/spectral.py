"""Spectral regularization: what it costs per step, and what it does to accuracy.

    # cost of spectral_penalty (forward + backward) against a plain L2 penalty, 1 torch thread, CPU
    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 nice python bench/spectral.py --cost

    # what λ does to the tables: the penalty of the trained entries and of the stored bits (as ±1)
    DWN_MCU_DATA=../shared/datasets nice python bench/spectral.py --effect australian [--lambdas 0,1,10,100]

    # validation and test accuracy for a few λ (needs the trainer, dwn_mcu.training.classifier)
    DWN_MCU_DATA=../shared/datasets MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
        nice python bench/spectral.py [--datasets australian,pima,segment] [--lambdas 0,0.001,0.01,0.1] \
        [--seeds 0,1,2] [--luts 200] [--json out.json]

Accuracy: `DWNClassifier` defaults except `spectral=λ` (and `--luts`); the validation accuracy is the best
epoch's on the 20% of the training rows held out for early stopping, the test accuracy the frozen model's
(NumPy reference) on the dataset's test split; mean ± sd over seeds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def cost(reps: int = 50):
    import torch

    from dwn_mcu.training.spectral import spectral_penalty

    torch.set_num_threads(1)
    print(f"machine: {platform.machine()}, torch {torch.__version__}, 1 thread, float32, mean of {reps} calls")
    print("| tables (L × 2**n) | spectral fwd+bwd ms | L2 fwd+bwd ms |")
    print("| --- | --- | --- |")
    for L, n in ((200, 6), (2000, 6), (1000, 6), (200, 8), (200, 4)):
        A = (torch.rand(L, 1 << n) * 2 - 1).requires_grad_(True)
        row = []
        for f in (spectral_penalty, lambda x: x.square().mean()):
            for _ in range(5):
                f(A).backward()
            t = time.perf_counter()
            for _ in range(reps):
                f(A).backward()
            row.append((time.perf_counter() - t) / reps * 1e3)
        print(f"| {L} × {1 << n} | {row[0]:.3f} | {row[1]:.3f} |", flush=True)


def effect(args):
    import torch

    from dwn_mcu import DWNClassifier
    from dwn_mcu.data import load_dataset
    from dwn_mcu.training.spectral import spectral_penalty

    X, y = load_dataset(args.effect).train_split()
    print(f"{args.effect}, luts {args.luts}, seed 0: spectral penalty (degree weighting) of the first layer")
    print("| λ | P(entries) | P(stored bits as ±1) | mean abs entry | epochs |")
    print("| --- | --- | --- | --- | --- |")
    for lam in [float(v) for v in args.lambdas.split(",")]:
        luts = tuple(int(v) for v in args.luts.split(","))
        clf = DWNClassifier(luts=luts, spectral=lam, seed=0, verbose=False).fit(X, y)
        E = clf.model_.layers[0].entries.detach()
        signs = torch.where(E > 0, 1.0, -1.0)
        print(f"| {lam:g} | {spectral_penalty(E).item():.3f} | {spectral_penalty(signs).item():.3f} | "
              f"{E.abs().mean().item():.3f} | {len(clf.history_)} |", flush=True)


def accuracy(args):
    from dwn_mcu import DWNClassifier
    from dwn_mcu.data import load_dataset

    lambdas = [float(v) for v in args.lambdas.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    luts = tuple(int(v) for v in args.luts.split(","))
    print(f"machine: {platform.machine()}, 1 torch thread; luts {luts}, seeds {seeds}")
    print("| dataset | λ | validation accuracy | test accuracy | epochs | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = {}
    for name in args.datasets.split(","):
        d = load_dataset(name)
        X_tr, y_tr = d.train_split()
        X_te, y_te = d.test_split()
        for lam in lambdas:
            val, test, epochs, secs = [], [], [], []
            for seed in seeds:
                t = time.perf_counter()
                clf = DWNClassifier(luts=luts, spectral=lam, seed=seed, verbose=False).fit(X_tr, y_tr)
                secs.append(time.perf_counter() - t)
                val.append(max(r["val_accuracy"] for r in clf.history_))
                test.append(float(np.mean(clf.freeze().predict(X_te) == y_te)))
                epochs.append(len(clf.history_))
            results[f"{name} {lam}"] = {"val": val, "test": test, "epochs": epochs, "seconds": secs}
            print(
                f"| {name} | {lam:g} | {100 * np.mean(val):.2f}% ± {100 * np.std(val):.2f} | "
                f"{100 * np.mean(test):.2f}% ± {100 * np.std(test):.2f} | {', '.join(map(str, epochs))} | "
                f"{np.mean(secs):.1f} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"luts": luts, "seeds": seeds, "results": results}, fh, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", action="store_true", help="time the penalty instead of training")
    ap.add_argument("--effect", metavar="DATASET", help="penalty of the trained tables for each λ")
    ap.add_argument("--datasets", default="australian,pima,segment")
    ap.add_argument("--lambdas", default="0,0.001,0.01,0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--luts", default="200")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.cost:
        cost()
    elif args.effect:
        effect(args)
    else:
        accuracy(args)


if __name__ == "__main__":
    main()
