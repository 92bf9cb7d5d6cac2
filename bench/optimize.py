"""Benchmark of the optimizer: model bits before and after, each pass's share, changed predictions.

    PYTHONPATH=. python bench/optimize.py [--source trained|random|both] [--models DIR] [--out FILE]

Models: for each of the six shared tabular datasets, small one-layer models. `trained` trains them with
`dwn_mcu.training.DWNClassifier` (needs the training extra, torch); `random` builds random-structured
models whose thresholds are training-split quantiles (`dwn_mcu.optimize.planted.quantile_model`: random
mapping, random tables, labelled as such). `--models DIR` also measures every `DIR/<dataset>_*.dwn`
(models trained elsewhere; the file name's prefix names the dataset), labelled "file". Every row checks the optimized model against the original
on every test-split row plus adversarial inputs: the "changed" column must be 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.optimize import PASSES, optimize  # noqa: E402
from dwn_mcu.optimize.planted import quantile_model  # noqa: E402
from dwn_mcu.optimize.threshold_grid import fits_float16_grid  # noqa: E402
from dwn_mcu.synthetic import adversarial_inputs  # noqa: E402

TABULAR = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]
# (LUTs, bits per feature, mapping) of the small one-layer models (dwn_training.md's "small DWN").
CONFIGS = [(50, 16, "learnable"), (200, 32, "learnable"), (100, 16, "random")]


def trained_model(data, luts, bits, mapping, seed):
    from dwn_mcu.training import DWNClassifier

    X, y = data.train_split()
    clf = DWNClassifier(luts=(luts,), lut_inputs=6, bits=bits, mapping=mapping, epochs=30, seed=seed,
                        verbose=False, device="cpu")
    clf.fit(X, y, feature_names=list(data.feature_names), class_names=list(data.class_names))
    return clf.freeze()


def random_model(data, luts, bits, seed):
    X, _ = data.train_split()
    C = data.num_classes
    return quantile_model(X, seed=seed, bits_per_feature=bits, luts=(max(1, luts // C) * C,), n=6, num_classes=C)


def avr_flash(model, layout="table"):
    """Flash bytes (text + data, PROGMEM tables included) of the generated model library compiled for
    the Nano (ATmega328P) with avr-gcc -Os, or None without the compiler package or avr-gcc."""
    try:
        from dwn_mcu.compiler import render_model_sources
    except ImportError:
        return None
    if shutil.which("avr-gcc") is None:
        return None
    sources = render_model_sources(model, "nano", "m", layout)
    with tempfile.TemporaryDirectory() as tmp:
        for fname, text in sources.items():
            Path(tmp, fname).write_text(text)
        subprocess.run(["avr-gcc", "-std=c99", "-Os", "-mmcu=atmega328p", "-ffunction-sections", "-fdata-sections",
                        "-c", "m.c", "-o", "m.o"], cwd=tmp, check=True)
        out = subprocess.run(["avr-size", "m.o"], cwd=tmp, check=True, capture_output=True, text=True).stdout
    text, data = out.splitlines()[1].split()[:2]
    return int(text) + int(data)


def measure(data, model):
    X_test, y_test = data.test_split()
    t0 = time.perf_counter()
    small, report = optimize(model)
    seconds = time.perf_counter() - t0
    X = np.concatenate([X_test, adversarial_inputs(model, seed=0)])
    changed = int(np.sum(small.predict(X) != model.predict(X)))
    changed_scores = int(np.sum(np.any(small.scores(X) != model.scores(X), axis=1)))
    acc = float(np.mean(model.predict(X_test) == y_test))
    flash = (avr_flash(model), avr_flash(small))
    return small, report, changed + changed_scores, acc, seconds, flash


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["trained", "random", "both"], default="both")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-optimizer.md"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", help="folder of <dataset>_*.dwn files to measure too")
    args = ap.parse_args(argv)
    os.environ.setdefault("DWN_MCU_DATA", str(ROOT.parent.parent / "shared" / "datasets"))

    sources = ["trained", "random"] if args.source == "both" else [args.source]
    if "trained" in sources:
        try:
            import dwn_mcu.training  # noqa: F401
            from dwn_mcu.training import DWNClassifier  # noqa: F401
        except ImportError as exc:
            print(f"no trainer ({exc}); random-structured models only", file=sys.stderr)
            sources.remove("trained")
    rows = []
    for source in sources:
        for name in TABULAR:
            data = load_dataset(name)
            for luts, bits, mapping in CONFIGS:
                if source == "random" and mapping == "learnable":
                    mapping = "random"
                if source == "trained":
                    model = trained_model(data, luts, bits, mapping, args.seed)
                else:
                    model = random_model(data, luts, bits, args.seed)
                small, report, changed, acc, seconds, flash = measure(data, model)
                rows.append((source, name, model.layers[-1].num_luts, bits, mapping, small, report, changed, acc, seconds, flash))
                b, a = report.before["total_bits"], report.after["total_bits"]
                print(f"{source:8} {name:11} {model.layers[-1].num_luts:4} LUTs {bits:3} bits {mapping:9} "
                      f"{b:7} -> {a:7} bits ({100 * (b - a) / b:5.1f}% fewer) changed {changed} "
                      f"acc {acc:.3f} {seconds:.2f}s", flush=True)
    if args.models:
        from dwn_mcu.model_file import load

        for path in sorted(Path(args.models).glob("*.dwn")):
            name = path.stem.split("_")[0]
            data, model = load_dataset(name), load(path)
            small, report, changed, acc, seconds, flash = measure(data, model)
            rows.append((f"file {path.stem}", name, model.layers[-1].num_luts, int(model.bits_per_feature.max()),
                         path.stem.split("_")[3] if path.stem.count("_") >= 3 else "?", small, report, changed, acc,
                         seconds, flash))
            b, a = report.before["total_bits"], report.after["total_bits"]
            print(f"{path.stem:40} {b:7} -> {a:7} bits ({100 * (b - a) / b:5.1f}% fewer) changed {changed} "
                  f"acc {acc:.3f}", flush=True)
    write_results(Path(args.out), rows, " ".join(sys.argv[1:]))


def write_results(path: Path, rows, argline: str):
    names = [name for name, _ in PASSES]
    lines = [
        "# Optimizer benchmark",
        "",
        f"Command: `PYTHONPATH=. python bench/optimize.py {argline}`".replace(" `", "`", 0),
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "Bits are `FrozenDWN.size_bits()['total_bits']` (tables + mapping at ceil(log2 inputs) bits per "
        "entry + 32 bits per threshold). \"changed\" counts test-split rows plus adversarial inputs whose "
        "class or scores differ between the original and the optimized model (must be 0). Pass columns: "
        "share of the bits removed that each pass removed. Nano flash: text + data bytes of the generated "
        "model library (table layout) compiled with avr-gcc -Os for the ATmega328P, before -> after. "
        "\"after, 16-bit thresholds\": bits after when every threshold is on the float16 grid (models "
        "trained with `snap_thermometer_to_float16`, file names ending `_f16`), thresholds counted at 16 bits. "
        "\"random\" rows are random-structured models "
        "(thresholds = training quantiles, random mapping, random tables), not trained ones.",
        "",
        "| source | dataset | LUTs | bits/feat | mapping | test acc | bits before | bits after | fewer | after, 16-bit thresholds | Nano flash | changed | "
        + " | ".join(names) + " | ignored features | time |",
        "| --- " * (14 + len(names)) + "|",
    ]
    for source, name, luts, bits, mapping, small, rep, changed, acc, seconds, flash in rows:
        b, a = rep.before["total_bits"], rep.after["total_bits"]
        share = [f"{100 * rep.removed[p]['total_bits'] / max(b - a, 1):.0f}%" for p in names]
        flash = "n/a" if None in flash else f"{flash[0]} -> {flash[1]}"
        half = a - 16 * small.num_input_bits if fits_float16_grid(small.thresholds) else "-"
        lines.append(
            f"| {source} | {name} | {luts} | {bits} | {mapping} | {100 * acc:.1f}% | {b} | {a} | "
            f"{100 * (b - a) / b:.1f}% | {half} | {flash} | {changed} | " + " | ".join(share)
            + f" | {len(rep.ignored_features)} | {seconds:.2f}s |"
        )
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
