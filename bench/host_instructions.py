"""Host instructions per inference (valgrind callgrind) of the generated C, both layouts.

Models: random LUT networks of the shapes a trained model has (no trainer on this branch yet; the cost of
the generated C depends on shapes, not on table contents), thresholds fitted as quantiles of the
training rows, inputs the real test rows:
  * phoneme: 5 features x 32 thresholds = 160 bits -> 200 LUTs -> 100 LUTs (n = 6, 2 classes);
  * MNIST: 784 pixels x 3 thresholds (repeats removed) -> 2000 LUTs -> 1000 LUTs (n = 6, 10 classes),
    torch_dwn's MNIST configuration.
The runner is built with gcc -O2; callgrind counts only inside `<name>_predict` (--toggle-collect), so
the figure excludes reading the vectors.

    nice python bench/host_instructions.py [--vectors 500]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwn_mcu.compiler import render_model_sources  # noqa: E402
from dwn_mcu.compiler.host import compile_runner, compare, format_vectors, run_runner  # noqa: E402
from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.frozen import FrozenDWN, LutLayer  # noqa: E402

SHAPES = {"phoneme": (32, (200, 100)), "mnist": (3, (2000, 1000))}


def quantile_model(X_train, bits, luts, num_classes, n=6, seed=0) -> FrozenDWN:
    rng = np.random.default_rng(seed)
    qs = (np.arange(bits) + 1) / (bits + 1)
    thresholds = [np.unique(np.quantile(X_train[:, f], qs).astype(np.float32)) for f in range(X_train.shape[1])]
    prev, layers = sum(t.size for t in thresholds), []
    for count in luts:
        layers.append(LutLayer.uniform(rng.integers(0, prev, size=(count, n)), rng.integers(0, 2, size=(count, 1 << n))))
        prev = count
    return FrozenDWN(thresholds=np.concatenate(thresholds), bits_per_feature=[t.size for t in thresholds],
                     layers=tuple(layers), num_classes=num_classes).validate()


def instructions(model, X, layout, name="bench") -> float:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for fname, text in render_model_sources(model, "nucleo_f401re", name, layout, check_budget=False).items():
            (tmp / fname).write_text(text)
        exe = compile_runner(tmp, name, tmp / "runner", "strict")
        classes, scores = run_runner(exe, X, model.num_classes)
        assert compare(model, X, classes, scores).ok, "C differs from the reference"
        out = tmp / "callgrind.out"
        (tmp / "in.txt").write_bytes(format_vectors(X))
        with open(tmp / "in.txt", "rb") as stdin:
            subprocess.run(["valgrind", "--tool=callgrind", f"--toggle-collect={name}_predict",
                            f"--callgrind-out-file={out}", str(exe)], stdin=stdin, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total = int(re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M).group(1))
        return total / X.shape[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=500, help="test rows per model (default 500)")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    print("| model | input bits | LUTs | layout | instructions / inference | per LUT |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for dataset, (bits, luts) in SHAPES.items():
        data = load_dataset(dataset)
        X_train, _ = data.train_split()
        X_test = data.test_split()[0][: args.vectors]
        model = quantile_model(X_train, bits, luts, data.num_classes)
        for layout in ("table", "unrolled"):
            ins = instructions(model, X_test, layout)
            print(f"| {dataset} | {model.num_input_bits} | {'+'.join(map(str, luts))} | {layout} | {ins:,.0f} | "
                  f"{ins / sum(luts):.1f} |", flush=True)


if __name__ == "__main__":
    main()
