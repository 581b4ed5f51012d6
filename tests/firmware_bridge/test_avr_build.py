"""The Arduino firmware built offline for the Uno and the Mega 2560: sizes within the
limits, tables and schema text out of RAM, the size check itself, the CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lunarsite.firmware_bridge.avr_build import (
    BOARDS,
    FirmwareTooLarge,
    build_avr_firmware,
    check_size,
    flash_command,
    missing_packages,
    parse_avr_size,
)
from lunarsite.launch.cli import main


@pytest.fixture(scope="module")
def avr_tools() -> None:
    missing = missing_packages()
    if missing:
        pytest.skip(f"AVR toolchain not installed: missing Debian packages {' '.join(missing)}")


def _hex_data_bytes(path: Path) -> int:
    """Bytes of data records in an Intel HEX file (what the board's flash will hold)."""
    total = 0
    for line in path.read_text().splitlines():
        assert line.startswith(":"), line
        raw = bytes.fromhex(line[1:])
        assert sum(raw) & 0xFF == 0, f"bad checksum in {line}"
        if raw[3] == 0x00:
            total += raw[0]
    return total


@pytest.mark.parametrize("board", ["uno", "mega"])
def test_firmware_builds_within_limits(avr_tools: None, board: str) -> None:
    build = build_avr_firmware(board)
    b = BOARDS[board]
    assert build.size.flash_bytes == _hex_data_bytes(build.hex)  # counted another way
    assert 8_000 < build.size.flash_bytes <= b.flash_limit_bytes
    assert 0 < build.size.ram_bytes <= b.ram_limit_bytes
    # The parameter tables (3 x 15 floats) and the schema text (1.3 KB) stay in flash:
    # initialised RAM holds only a few small variables.
    assert build.size.sections[".data"] < 3 * 15 * 4
    machine = subprocess.run(
        ["avr-objdump", "-f", str(build.elf)], capture_output=True, text=True, check=True
    ).stdout
    assert "elf32-avr" in machine
    assert (b"atmega328p" if board == "uno" else b"atmega2560") in build.elf.read_bytes()


_FAKE_SIZE = """\
lunarsite_rover.ino.elf  :
section                     size      addr
.data                        {data}   8388864
.text                      {text}         0
.bss                        {bss}   8388920
.noinit                        1   8389931
.comment                      17         0
.debug_info                 1524         0
Total                      48375
"""


@pytest.mark.parametrize(
    ("text", "data", "bss", "problem"),
    [
        (17662, 56, 1011, None),
        (24520, 56, 1011, None),  # 24,576 B flash exactly
        (24521, 56, 1011, "flash 24577 B > limit 24576 B"),
        (17662, 56, 1479, None),  # 1,536 B RAM exactly
        (17662, 56, 1480, "static RAM 1537 B > limit 1536 B"),
    ],
)
def test_size_limits_on_the_uno(text: int, data: int, bss: int, problem: str | None) -> None:
    size = parse_avr_size(_FAKE_SIZE.format(text=text, data=data, bss=bss))
    assert size.flash_bytes == text + data
    assert size.ram_bytes == data + bss + 1
    if problem is None:
        check_size(size, BOARDS["uno"])
    else:
        with pytest.raises(FirmwareTooLarge, match=problem):
            check_size(size, BOARDS["uno"])


def test_flash_command_uses_the_boards_bootloader() -> None:
    cmd = flash_command("mega", "/dev/ttyACM0", Path("/x/fw.hex"))
    assert cmd[:2] == ["avrdude", "-p"] and "m2560" in cmd and "wiring" in cmd
    assert cmd[-1] == "flash:w:/x/fw.hex:i" and cmd[cmd.index("-P") + 1] == "/dev/ttyACM0"


def test_cli_build_prints_the_size_report(
    avr_tools: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["firmware", "build", "--board", "uno"]) == 0
    out = capsys.readouterr().out
    assert "uno (atmega328p): flash" in out and "static RAM" in out and ".hex" in out


def test_cli_flash_names_a_missing_port(
    avr_tools: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if shutil.which("avrdude") is None:
        pytest.skip("avrdude not installed: missing Debian package avrdude")
    port = str(tmp_path / "no-board")
    assert main(["firmware", "flash", "--board", "uno", "--port", port]) == 1
    err = capsys.readouterr().err
    assert "avrdude" in err and port in err
