"""AVR cycles per inference of one phoneme-shaped model with float32 inputs and with int16 inputs, and the
encoder's share of them (ATmega328P in simavr, exact cycles between GPIOR1 markers around `predict`).

The model: thresholds at 32 quantiles of each phoneme training feature (as a distributive thermometer
places them), random LUT layers 200 -> 100 of 6 inputs (cycles do not depend on what the LUTs learned).
Its int16 twin is `to_integer_model` with `fit_quantization` on the training rows. Inputs: phoneme test
rows (float32) and the same rows quantized (int16). The encoder alone is measured on the same thresholds
with one constant LUT per class instead of the layers.

    PYTHONPATH=. DWN_MCU_DATA=/work/shared/datasets python bench/integer_inputs_avr.py [--rows 32]
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
from dwn_mcu.data import load_dataset  # noqa: E402
from dwn_mcu.frozen import FrozenDWN, LutLayer  # noqa: E402
from dwn_mcu.integer_inputs import fit_quantization, to_integer_model  # noqa: E402
from dwn_mcu.synthetic import random_model  # noqa: E402

HARNESS = Path("/work/shared/notes/toolchains/simavr_harness.c")
MAIN = """#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <string.h>
#include "m.h"
#define ROWS {rows}u
static const {row_type} rows[ROWS][M_NUM_FEATURES] = {{
{data}
}};
volatile uint8_t sink;
int main(void)
{{
    m_input_t x[M_NUM_FEATURES];
    m_score_t s[M_NUM_CLASSES];
    uint8_t i;
    for (i = 0; i < ROWS; ++i) {{
        memcpy(x, rows[i], sizeof x); /* float32 rows travel as bit patterns */
        GPIOR1 = 1;
        sink = m_predict(x, s);
        GPIOR1 = 2;
    }}
    cli();
    sleep_cpu();
    return 0;
}}
"""


def phoneme_model(X_tr, bits=32, luts=(200, 100), n=6):
    F = X_tr.shape[1]
    thresholds = [np.unique(np.quantile(X_tr[:, f], (np.arange(bits) + 0.5) / bits).astype(np.float32))
                  for f in range(F)]
    counts = [t.size for t in thresholds]
    shape = random_model(seed=0, num_features=F, bits_per_feature=counts, luts=luts, n=n, num_classes=2)
    return FrozenDWN(thresholds=np.concatenate(thresholds), bits_per_feature=counts, layers=shape.layers,
                     num_classes=2).validate()


def encoder_only(model):
    constant = LutLayer(np.zeros(2, np.int64), np.zeros(0, np.int64), np.zeros(2, np.uint8))
    return FrozenDWN(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature, layers=(constant,),
                     num_classes=2, input_type=model.input_type, input_scale=model.input_scale,
                     input_offset=model.input_offset).validate()


def cycles(model, layout, rows, tmp: Path, runner: Path) -> tuple[float, int]:
    """(median cycles per inference, firmware flash bytes)."""
    for name, text in render_model_sources(model, "nano", "m", layout, check_budget=False).items():
        (tmp / name).write_text(text)
    if model.input_type == "float32":
        row_type = "uint32_t"
        words = np.asarray(rows, np.float32).view(np.uint32)
        data = ",\n".join("    {" + ", ".join(f"0x{v:08X}u" for v in r) + "}" for r in words)
    else:
        row_type = "m_input_t"
        data = ",\n".join("    {" + ", ".join(str(int(v)) for v in r) + "}" for r in rows)
    (tmp / "main.c").write_text(MAIN.format(rows=len(rows), row_type=row_type, data=data))
    elf = tmp / "fw.elf"
    subprocess.run(["avr-gcc", "-std=gnu99", "-Os", "-mmcu=atmega328p", f"-I{tmp}", tmp / "main.c", tmp / "m.c",
                    "-o", elf], check=True)
    out = subprocess.run([runner, elf, "200000000"], capture_output=True, text=True, check=True).stdout
    counts = [int(c) for c in re.findall(r"REGION \d+ cycles=(\d+)", out)]
    assert len(counts) == len(rows), out
    size = subprocess.run(["avr-size", "-A", elf], capture_output=True, text=True, check=True).stdout
    flash = sum(int(m) for m in re.findall(r"^\.(?:text|data)\s+(\d+)", size, re.M))
    return float(np.median(counts)), flash


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=32, help="test rows measured (median reported)")
    args = ap.parse_args()
    for tool in ("avr-gcc", "avr-size", "gcc"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found")
    data = load_dataset("phoneme")
    X_tr, _ = data.train_split()
    X_te, _ = data.test_split()
    X_te = X_te[np.linspace(0, X_te.shape[0] - 1, args.rows).astype(int)]
    fmodel = phoneme_model(X_tr)
    imodel = to_integer_model(fmodel, "int16", *fit_quantization(X_tr, "int16"))
    K_te = imodel.quantize(X_te)
    with tempfile.TemporaryDirectory(prefix="dwn-int-bench-") as tmp:
        tmp = Path(tmp)
        runner = tmp / "avr_run"
        subprocess.run(["gcc", "-O2", "-o", runner, HARNESS, "-I/usr/include/simavr", "-lsimavr", "-lelf"],
                       check=True)
        print(f"model: phoneme quantile thresholds, {fmodel.num_input_bits} bits (int16: {imodel.num_input_bits}),"
              f" LUTs 200 -> 100 of 6 inputs; {args.rows} test rows; avr-gcc -Os, ATmega328P, simavr")
        print("| inputs | layout | cycles / inference | encoder cycles | encoder share | firmware flash |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for label, model, rows in (("float32", fmodel, X_te), ("int16", imodel, K_te)):
            for layout in ("table", "unrolled"):
                total, flash = cycles(model, layout, rows, tmp, runner)
                enc, _ = cycles(encoder_only(model), layout, rows, tmp, runner)
                print(f"| {label} | {layout} | {total:,.0f} | {enc:,.0f} | {100 * enc / total:.1f}% | {flash:,} |")


if __name__ == "__main__":
    main()
