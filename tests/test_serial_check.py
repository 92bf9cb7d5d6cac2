"""`dwn-mcu check`, end to end: the project's sketch runs in simavr with its UART bridged to a
pseudo-terminal (tests/sim_board.py), and check talks to it through pyserial, the code path that talks to a
real board. It agrees 100% with the reference, and the latency it reads from the sketch's micros() is
within 2% of the cycles simavr counts for the same inferences at the Nano's 16 MHz; a firmware that lies
about its timing fails that, one whose model differs fails the agreement (exit 1). Bad input (no port, a
port with nothing on it, another sketch, another model, a wrong baud rate): one line, exit 2."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from sim_board import simulated_board
from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project
from dwn_mcu.compiler.project import load_project, render_model_sources
from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.targets.arduino import build_sketch
from dwn_mcu.targets.serial_check import check_board
from tests.target_tools import require_arduino_core, require_target

F_CPU = 16_000_000
LATENCY_TOLERANCE = 0.02
SHAPE = dict(num_features=4, bits_per_feature=6, luts=(40, 20), n=6, num_classes=2)
OTHER_SKETCH = """#include <Arduino.h>
void setup() { Serial.begin(115200); }
void loop() { if (Serial.available() > 0) { Serial.read(); Serial.println("hello"); } }
"""


def latency_agrees(latency_us: float, cycles: list[int], tolerance: float = LATENCY_TOLERANCE) -> bool:
    """The board's mean latency against simavr's mean cycle count at the board's clock."""
    simulated_us = sum(cycles) / len(cycles) / F_CPU * 1e6
    return abs(latency_us - simulated_us) <= tolerance * simulated_us


def _project(root: Path, seed: int):
    model = random_model(seed=seed, **SHAPE)
    X = adversarial_inputs(model, seed=3, random_rows=24)
    build_project(model, "nano", root, name="tm", layout="table", selftest_vectors=X[::9], verify_vectors=X)
    return load_project(root)


def _firmware(project, work: Path) -> Path:
    return build_sketch(project.root / "src" / "main.cpp", [project.lib_src], work)


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    """Firmwares: the project's (`ok`), one whose timing lies, one whose model differs, another model's
    sketch, another sketch; and the project itself."""
    require_target("avr")
    require_arduino_core()
    base = tmp_path_factory.mktemp("check")
    project = _project(base / "project", seed=5)
    elves = {"ok": _firmware(project, base / "ok"),
             "other_model": _firmware(_project(base / "other", seed=6), base / "other_fw")}
    lying = base / "lying"
    shutil.copytree(project.root, lying)
    main_cpp = lying / "src" / "main.cpp"
    text = main_cpp.read_text()
    assert text.count("SKETCH_MICROS() - t0;") == 1
    main_cpp.write_text(text.replace("SKETCH_MICROS() - t0;", "(SKETCH_MICROS() - t0) / 2u;"))
    elves["lying"] = _firmware(load_project(lying), base / "lying_fw")
    swapped = base / "swapped"
    shutil.copytree(project.root, swapped)  # this project's sketch and identity, another model's library
    for name, text in render_model_sources(random_model(seed=7, **SHAPE), "nano", "tm", "table").items():
        (swapped / "lib" / "tm" / "src" / name).write_text(text)
    elves["swapped"] = _firmware(load_project(swapped), base / "swapped_fw")
    (base / "hello").mkdir()
    (base / "hello" / "hello.cpp").write_text(OTHER_SKETCH)
    elves["other_sketch"] = build_sketch(base / "hello" / "hello.cpp", [], base / "hello_fw")
    return project, elves


def test_check_agrees_and_its_latency_matches_simavr_cycles(boards, capsys):
    project, elves = boards
    with simulated_board(elves["ok"]) as board:
        rc = main(["check", "--port", board.port, str(project.root)])
    out = capsys.readouterr().out
    n = re.search(r"agreement (\d+)/(\d+) \(100\.00%\)", out)
    assert rc == 0 and n and n.group(1) == n.group(2) and "PASS" in out, out
    assert int(n.group(2)) >= 50  # the project's decimal-safe vectors and the derived set
    latency = float(re.search(r"latency ([\d.]+) us mean", out).group(1))
    assert len(board.cycles) == int(n.group(2))  # every inference bracketed and counted
    simulated_us = sum(board.cycles) / len(board.cycles) / F_CPU * 1e6
    print(f"board latency {latency} us, simavr {simulated_us:.2f} us")
    assert latency_agrees(latency, board.cycles), (latency, simulated_us)


def test_a_firmware_that_lies_about_its_timing_fails_the_latency_check(boards):
    project, elves = boards
    with simulated_board(elves["lying"]) as board:
        result = check_board(project, board.port)
    assert result.ok  # its answers are right ...
    assert not latency_agrees(result.latency_us, board.cycles)  # ... its timing is not


def test_a_firmware_with_another_model_inside_fails_with_exit_1(boards, capsys):
    project, elves = boards
    with simulated_board(elves["swapped"]) as board:
        rc = main(["check", "--port", board.port, str(project.root)])
    out = capsys.readouterr().out
    assert rc == 1 and "FAIL first mismatch at vector" in out, out


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_no_port_is_a_usage_error(boards, capsys):
    project, _ = boards
    with pytest.raises(SystemExit) as exc:
        main(["check", str(project.root)])
    assert exc.value.code == 2
    _one_line_error(capsys, "--port")


def test_a_port_that_does_not_exist(boards, capsys):
    project, _ = boards
    assert main(["check", "--port", "/dev/no-such-board", str(project.root)]) == 2
    _one_line_error(capsys, "/dev/no-such-board", "cannot open")


def test_a_port_with_nothing_on_it(boards, capsys):
    project, _ = boards
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        assert main(["check", "--port", port, "--timeout", "1", str(project.root)]) == 2
    finally:
        os.close(master)
        os.close(slave)
    _one_line_error(capsys, port, "no board answered within 1 s")


@pytest.mark.parametrize("firmware, needle", [("other_sketch", "does not answer `id` as a dwn-mcu sketch"),
                                              ("other_model", "the board runs model 'tm ")])
def test_a_board_running_something_else(boards, capsys, firmware, needle):
    project, elves = boards
    with simulated_board(elves[firmware]) as board:
        assert main(["check", "--port", board.port, "--timeout", "2", str(project.root)]) == 2
    _one_line_error(capsys, board.port, needle)


def test_a_wrong_baud_rate(boards, capsys):
    project, elves = boards
    with simulated_board(elves["ok"]) as board:
        assert main(["check", "--port", board.port, "--baud", "9600", "--timeout", "1", str(project.root)]) == 2
    _one_line_error(capsys, board.port, "at 9600 baud: wrong baud rate? (the sketch uses 115200)")


def test_a_wrong_baud_rate_with_a_board_that_talks(boards, capsys):
    project, elves = boards  # the other sketch answers every byte: its replies arrive garbled
    with simulated_board(elves["other_sketch"]) as board:
        assert main(["check", "--port", board.port, "--baud", "9600", "--timeout", "1", str(project.root)]) == 2
    _one_line_error(capsys, board.port, "unreadable answer at 9600 baud: wrong baud rate? (the sketch uses 115200)")
