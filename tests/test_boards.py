"""Board files: every shipped board loads and states sane facts; lookup by alias; unknown names suggest
the closest; a malformed user board file names the file and field; the `boards` CLI lists them."""

import pytest

from dwn_mcu.cli import main
from dwn_mcu.architectures import architecture
from dwn_mcu.compiler.boards import ARCHES, BoardError, get_board, load_board, load_boards

EXPECTED = {  # key: (PlatformIO board id, arch, flash, RAM, clock)
    "nano": ("nanoatmega328", "avr", 30720, 2048, 16_000_000),
    "uno": ("uno", "avr", 32256, 2048, 16_000_000),
    "attiny85": ("attiny85", "avr", 8192, 512, 8_000_000),
    "bluepill_f103c8": ("bluepill_f103c8", "cortex-m3", 65536, 20480, 72_000_000),
    "nucleo_f401re": ("nucleo_f401re", "cortex-m4f", 524288, 98304, 84_000_000),
    "pico": ("pico", "cortex-m0plus", 2097152, 270336, 133_000_000),
    "nano33ble": ("nano33ble", "cortex-m4f", 983040, 262144, 64_000_000),
    "esp32c3": ("esp32-c3-devkitm-1", "riscv32", 1310720, 327680, 160_000_000),
    "esp32": ("esp32dev", "xtensa", 1310720, 327680, 240_000_000),
}


def test_shipped_boards_match_platformio_facts():
    boards = load_boards()
    assert set(EXPECTED) <= set(boards)
    for key, (pio, arch, flash, ram, clock) in EXPECTED.items():
        b = boards[key]
        assert (b.pio_board, b.arch, b.flash, b.ram, b.f_cpu) == (pio, arch, flash, ram, clock), key
        assert b.arch in ARCHES
        assert b.progmem == (arch == "avr")
        # the compiler, flags and emulator come from the architecture's record, not the board file
        toolchain = architecture(b.arch).toolchain
        assert (toolchain is None) == (arch == "xtensa")
        assert toolchain is None or any(f.startswith("-O") for f in toolchain.cflags)


def test_lookup_by_alias_is_case_insensitive():
    assert get_board("nano").key == "nano"
    assert get_board("NanoATmega328").key == "nano"
    assert get_board("RP2040").key == "pico"
    assert get_board("esp32-c3").key == "esp32c3"


def test_unknown_board_suggests_closest():
    with pytest.raises(BoardError, match=r"unknown board 'nanno'.*did you mean.*nano"):
        get_board("nanno")
    with pytest.raises(BoardError, match="unknown board 'zzzz'"):
        get_board("zzzz")


GOOD = """
name = "My board"
aliases = ["mine"]
[platformio]
platform = "atmelavr"
board = "megaatmega2560"
framework = "arduino"
[chip]
arch = "avr"
mcu = "atmega2560"
f_cpu = 16000000
flash = 253952
ram = 8192
progmem = true
[sketch]
flash = 4200
"""
# Board files of an older version named a toolchain and an emulator; those tables are ignored.
OLD_TABLES = """
[toolchain]
cc = "avr-gcc"
cflags = ["-Os", "-mmcu=atmega2560"]
[emulator]
kind = "simavr"
"""


def test_board_file_with_old_toolchain_tables_loads(tmp_path):
    (tmp_path / "mega.toml").write_text(GOOD + OLD_TABLES)
    b = load_board(tmp_path / "mega.toml")
    assert (b.arch, b.ram, b.sketch_flash) == ("avr", 8192, 4200)
    assert not hasattr(b, "cflags")


def test_user_board_folder_from_option_and_environment(tmp_path, monkeypatch):
    (tmp_path / "mega.toml").write_text(GOOD)
    assert get_board("mine", tmp_path).ram == 8192
    monkeypatch.setenv("DWN_MCU_BOARDS", str(tmp_path))
    assert get_board("mega").pio_board == "megaatmega2560"
    assert "nano" in load_boards()  # shipped boards stay


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda s: s.replace("ram = 8192", 'ram = "lots"'), "chip.ram"),
        (lambda s: s.replace('arch = "avr"', 'arch = "z80"'), "chip.arch"),
        (lambda s: s.replace('board = "megaatmega2560"\n', ""), "platformio.board"),
        (lambda s: s.replace("progmem = true", "progmem = 1"), "chip.progmem"),
        (lambda s: s.replace("flash = 4200", 'flash = "4k"'), "sketch.flash"),
        (lambda s: s.replace("flash = 253952", "flash = -1"), "chip.flash"),
        (lambda s: s + "\n[[[", "not valid TOML"),
    ],
)
def test_malformed_board_names_file_and_field(tmp_path, edit, field):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(BoardError) as info:
        load_board(path)
    assert str(path) in str(info.value) and field in str(info.value)
    with pytest.raises(BoardError, match="bad.toml"):
        get_board("nano", tmp_path)


def test_boards_cli_lists_flash_ram_clock(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.split() and l.split()[0] == "nano")
    assert "30720" in line and "2048" in line and "16" in line
    for key in EXPECTED:
        assert any(l.split() and l.split()[0] == key for l in out.splitlines())


def test_boards_cli_bad_folder_exits_2(capsys, tmp_path):
    assert main(["boards", "--boards-dir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
