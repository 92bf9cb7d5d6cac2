"""The per-phase profile: phase marks in the harness and the QEMU runners, counted exactly, and a
profile firmware's phases (encoder, each layer, scores and argmax) in every target result."""

import statistics
import subprocess

import numpy as np
import pytest

from dwn_mcu.compiler import render_model_sources
from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.targets.simavr import run_avr, split_markers
from dwn_mcu.targets.verify import phase_counts, verify_on_target
from target_tools import require_target

# An empty region, then one with two phase marks (3 and 4) between runs of 5, 7 and 2 `nop`s.
AVR_MARKS = r"""
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/interrupt.h>
int main(void) {
  __asm__ volatile("ldi r24, 1\n ldi r25, 2\n ldi r26, 3\n ldi r27, 4\n out %0, r24\n out %0, r25\n"
                   "out %0, r24\n .rept 5\n nop\n .endr\n out %0, r26\n .rept 7\n nop\n .endr\n"
                   "out %0, r27\n .rept 2\n nop\n .endr\n out %0, r25\n"
                   :: "I"(_SFR_IO_ADDR(GPIOR1)) : "r24", "r25", "r26", "r27");
  GPIOR2 = 0;
  cli(); sleep_cpu();
  return 0;
}
"""


def test_split_markers_attaches_marks_to_their_region():
    raw = "hello\n@REGION 5 0\n@MARK 3 10\n@MARK 4 25\n@REGION 40 2\nR 0 1\n@END state=done exit=0 cycles=9 max_stack=3\n"
    text, regions, stacks, end, marks = split_markers(raw)
    assert text == "hello\nR 0 1\n"
    assert regions == [5, 40] and stacks == [0, 2] and end is not None
    assert marks == [(), ((3, 10), (4, 25))]


def test_phase_counts_sum_to_the_calibrated_region():
    assert phase_counts(40, ((3, 10), (4, 25)), empty=1) == [9, 15, 15]
    assert sum(phase_counts(40, ((3, 10), (4, 25)), empty=1)) == 39
    assert phase_counts(7, (), empty=1) == [6]


def test_avr_harness_counts_cycles_at_each_mark(tmp_path):
    require_target("avr")
    src, elf = tmp_path / "p.c", tmp_path / "p.elf"
    src.write_text(AVR_MARKS)
    subprocess.run(["avr-gcc", "-Os", "-mmcu=atmega328p", "-o", str(elf), str(src)], check=True)
    out = run_avr(elf)
    empty, total = out.regions
    assert empty == 1 and out.region_marks[0] == ()
    # start's out (1) + 5 nops; + the mark's out + 7 nops; + the mark's out + 2 nops
    assert out.region_marks[1] == ((3, 6), (4, 14)) and total == 17
    assert phase_counts(total, out.region_marks[1], empty) == [5, 8, 3]  # each phase: its nops + its end mark


@pytest.fixture(scope="module")
def model():
    return random_model(seed=5, num_features=4, bits_per_feature=5, luts=(24, 12), n=6, num_classes=3)


@pytest.mark.parametrize("target", ["avr", "cortex-m0plus", "rv32"])
@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_verify_profiles_every_phase(model, target, layout):
    require_target(target)
    X = adversarial_inputs(model, seed=2, random_rows=6)
    sources = render_model_sources(model, "nano", "pm", layout)
    r = verify_on_target(model, target, X, sources, "pm", measure_model_share=False)
    assert r.ok
    prof = r.profile
    assert list(prof["median"]) == ["encoder", "layer 1", "layer 2", "scores and argmax"]
    assert prof["unit"] == r.latency_unit and prof["vectors"] == min(len(X), 32 if target == "avr" else 256)
    assert all(v > 0 for v in prof["median"].values())
    plain = statistics.median(r.latency[:prof["vectors"]])
    # the marks cost a few cycles or instructions each (three marks), never less than nothing
    # the marks change the code a little (barriers, register use: measured -3 to +59 here, 3.6% at
    # most), so the profile stays within a dozen counts per mark and 5% of the firmware without them
    assert abs(prof["marks_cost_median"]) <= 3 * 12 + 0.05 * plain
    assert abs(prof["total_median"] - plain) <= 3 * 12 + 0.05 * plain
    assert r.as_dict()["phases"] == prof
