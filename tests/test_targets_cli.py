"""`dwn-mcu verify OUT --target ...` on emulated chips: the table, the report, and a mismatch's exit."""

import json

from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project
from dwn_mcu.model_file import save
from dwn_mcu.synthetic import random_model
from target_tools import require_target


def _model(seed):
    return random_model(seed=seed, num_features=4, bits_per_feature=5, luts=(30, 14), n=5, num_classes=2)


def test_verify_cortex_m_prints_the_table_and_fills_the_report(tmp_path, capsys):
    require_target("cortex-m4f")
    out = tmp_path / "out"
    build_project(_model(1), "nucleo_f401re", out, name="tm")
    assert main(["verify", str(out)]) == 0  # host, then the board's own target: cortex-m4f
    text = capsys.readouterr().out
    assert "strict" in text and "sanitize" in text
    row = next(line for line in text.splitlines() if line.startswith("cortex-m4f"))
    assert "100.00%" in row and "instructions" in row and "cycles" not in row
    report = json.loads((out / "dwn_report.json").read_text())
    assert report["targets"]["cortex-m4f"]["agreement"] == 1.0 and "host" in report["targets"]
    assert report["targets"]["cortex-m4f"]["plan_check"]["flash_estimate"] == report["flash"]["model"]


def test_verify_host_goes_into_the_report(tmp_path, capsys):
    out = tmp_path / "out"
    build_project(_model(1), "esp32", out, name="tm")  # Xtensa: no emulator, so the default is host
    assert main(["verify", str(out)]) == 0
    report = json.loads((out / "dwn_report.json").read_text())
    assert report["targets"]["host"]["strict"]["agree"] == report["targets"]["host"]["strict"]["vectors"] > 0


def test_verify_reports_the_first_mismatch_and_exits_1(tmp_path, capsys):
    require_target("rv32")
    out = tmp_path / "out"
    build_project(_model(1), "esp32c3", out, name="tm", layout="table")
    save(_model(2), out / "dwn" / "model.dwn")  # the reference no longer matches the generated C
    assert main(["verify", str(out), "--target", "rv32"]) == 1
    text = capsys.readouterr().out
    assert "FAIL (rv32): vector" in text
    assert "reference: class" in text and "firmware:  class" in text


def test_default_target_follows_the_board():
    from dwn_mcu.targets.project import default_target, expand_targets

    assert default_target({"board": {"arch": "avr", "mcu": "atmega328p"}}) == "avr"
    assert default_target({"board": {"arch": "avr", "mcu": "attiny85"}}) == "host"  # no ATtiny85 emulation here
    assert default_target({"board": {"arch": "riscv32"}}) == "rv32"
    assert default_target({"board": {"arch": "xtensa"}}) == "host"
    assert expand_targets("all", {}) == ["host", "avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "rv32"]
