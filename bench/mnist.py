"""MNIST with torch_dwn's published configuration (docs/design.md), on CPU or GPU.

    DWN_MCU_DATA=../shared/datasets MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
        python bench/mnist.py --device cuda --json mnist.json [--epochs 30] [--train-rows N]

Configuration: 3 thresholds per pixel (distributive thermometer fitted on the 60k training images, repeated
thresholds removed), LUT layers 2000 (learnable mapping) then 1000 (random), n = 6, GroupSum tau = 1/0.3,
Adam lr 1e-2, StepLR(14, 0.1), batch 32, 30 epochs, no validation split and no early stopping (as the
example trains). Test accuracy is the NumPy reference's on the official 10k test set; the per-epoch
test accuracy is recorded for the curve only (it selects nothing). The JSON is rewritten after every
epoch, so a run cut short still leaves what finished.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from dwn_mcu import DWNClassifier
from dwn_mcu.data import load_dataset


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--train-rows", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="mnist.json")
    ap.add_argument("--save", default=None, help="also write the frozen model here")
    args = ap.parse_args()

    d = load_dataset("mnist")
    X_tr, y_tr = d.train_split()
    X_te, y_te = d.test_split()
    if args.train_rows:
        X_tr, y_tr = X_tr[: args.train_rows], y_tr[: args.train_rows]
    clf = DWNClassifier(
        luts=(2000, 1000), lut_inputs=6, bits=3, encoding="distributive", mapping="learnable", tau=1 / 0.3,
        lr=1e-2, schedule="step", step_size=14, gamma=0.1, epochs=args.epochs, batch_size=args.batch_size,
        validation_fraction=0.0, seed=args.seed, device=args.device, num_threads=args.threads, verbose=False,
    )
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    result = {
        "config": "torch_dwn MNIST: 3-bit distributive, 2000 (learnable) -> 1000 LUTs, n=6, tau=1/0.3, "
        "Adam 1e-2, StepLR(14, 0.1), batch 32",
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else
        f"cpu {platform.machine()}, {args.threads or torch.get_num_threads()} threads",
        "epochs_planned": args.epochs, "train_rows": int(X_tr.shape[0]), "epochs": [],
    }

    def dump():
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)

    def on_epoch(record):
        t = time.perf_counter()
        record = dict(record, test_accuracy=float(np.mean(clf._predict_index(X_te) == y_te)))
        record["eval_seconds"] = time.perf_counter() - t
        result["epochs"].append(record)
        print(json.dumps(record), flush=True)
        dump()

    start = time.perf_counter()
    clf.fit(X_tr, y_tr, class_names=d.class_names, callback=on_epoch)
    result["train_seconds"] = time.perf_counter() - start
    model = clf.freeze()
    result["thermometer_bits"] = model.num_input_bits
    result["test_accuracy"] = float(np.mean(model.predict(X_te) == y_te))
    result["torch_equals_reference"] = bool(np.array_equal(model.predict(X_te), clf._predict_index(X_te)))
    result["size_bits"] = model.size_bits()
    if args.save:
        from dwn_mcu import save

        save(model, args.save)
    dump()
    print(json.dumps({k: v for k, v in result.items() if k != "epochs"}, indent=2))


if __name__ == "__main__":
    main()
