"""Build the reference firmware for AVR Arduinos offline, report its size, flash it.

The Arduino sketch (``firmware/lunarsite_rover/``) is staged with the portable core
(``firmware/ls_*.c/h``) into a cache folder keyed by a hash of the sources, the board and
the tools, and compiled with Debian's ``arduino-builder`` and ``arduino-core-avr`` (no
Java, no network). Debian's core needs ``DECIMAL_DIG`` defined with its gcc-avr 5.4.

Flash is what the board stores (``.text`` + ``.data``); static RAM is what is taken
before the stack (``.data`` + ``.bss`` + ``.noinit``), as ``avr-size -A`` counts them.
A build past the board's limits raises :class:`FirmwareTooLarge`: on the Uno 24 KB of
flash (the bootloader and room to grow take the rest of 32 KB) and 1.5 KB of RAM (the
stack needs the other 0.5 KB).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .build import FIRMWARE_DIR, FirmwareBuildError, cache_dir

__all__ = [
    "BOARDS",
    "AvrBuild",
    "Board",
    "FirmwareTooLarge",
    "SizeReport",
    "ToolsMissing",
    "build_avr_firmware",
    "check_size",
    "flash_command",
    "flash_firmware",
    "missing_packages",
    "parse_avr_size",
]

log = logging.getLogger(__name__)

SKETCH_DIR = FIRMWARE_DIR / "lunarsite_rover"
_CORE_FILES = tuple(f"ls_{m}.{x}" for m in ("codec", "protocol", "firmware") for x in "ch")
_HARDWARE = Path("/usr/share/arduino/hardware")
_BUILDER_PLATFORM = Path("/usr/share/arduino-builder")


class ToolsMissing(FirmwareBuildError):
    """The AVR toolchain or Arduino core is not installed; the message names the packages."""


class FirmwareTooLarge(FirmwareBuildError):
    """The image does not fit the board's flash or static RAM limit."""


@dataclass(frozen=True)
class Board:
    name: str
    fqbn: str
    mcu: str
    """avr-gcc's -mmcu and simavr's name for the chip."""
    avrdude_part: str
    avrdude_programmer: str
    upload_baud: int
    flash_limit_bytes: int
    ram_limit_bytes: int
    flash_total_bytes: int
    ram_total_bytes: int


BOARDS: dict[str, Board] = {
    "uno": Board(
        "uno", "arduino:avr:uno", "atmega328p", "m328p", "arduino", 115200,
        flash_limit_bytes=24 * 1024, ram_limit_bytes=1536,
        flash_total_bytes=32768, ram_total_bytes=2048,
    ),
    "mega": Board(
        "mega", "arduino:avr:mega:cpu=atmega2560", "atmega2560", "m2560", "wiring", 115200,
        flash_limit_bytes=248 * 1024, ram_limit_bytes=6 * 1024,
        flash_total_bytes=262144, ram_total_bytes=8192,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SizeReport:
    flash_bytes: int
    ram_bytes: int
    sections: dict[str, int]

    def text(self, board: Board) -> str:
        flash_pct = 100.0 * self.flash_bytes / board.flash_total_bytes
        ram_pct = 100.0 * self.ram_bytes / board.ram_total_bytes
        return (
            f"{board.name} ({board.mcu}): flash {self.flash_bytes} B of "
            f"{board.flash_total_bytes} ({flash_pct:.1f} %, limit {board.flash_limit_bytes}), "
            f"static RAM {self.ram_bytes} B of {board.ram_total_bytes} ({ram_pct:.1f} %, "
            f"limit {board.ram_limit_bytes})"
        )


@dataclass(frozen=True)
class AvrBuild:
    board: Board
    elf: Path
    hex: Path
    size: SizeReport


_TOOLS = {
    "avr-gcc": "gcc-avr",
    "avr-size": "binutils-avr",
    "arduino-builder": "arduino-builder",
}


def missing_packages() -> list[str]:
    """Debian packages the AVR build needs that are not installed, in install order."""
    missing = [pkg for tool, pkg in _TOOLS.items() if shutil.which(tool) is None]
    if not Path("/usr/lib/avr/include/avr/io.h").exists():
        missing.append("avr-libc")
    if not (_HARDWARE / "arduino" / "avr" / "cores" / "arduino" / "Arduino.h").exists():
        missing.append("arduino-core-avr")
    return missing


_SIZE_LINE = re.compile(r"^(\.[\w.]+)\s+(\d+)\s+(\d+)\s*$")


def parse_avr_size(text: str) -> SizeReport:
    """Flash and static RAM from ``avr-size -A`` output (section, size, address)."""
    sections: dict[str, int] = {}
    for line in text.splitlines():
        m = _SIZE_LINE.match(line.strip())
        if m:
            sections[m.group(1)] = int(m.group(2))
    if ".text" not in sections:
        raise FirmwareBuildError(f"avr-size output has no .text section:\n{text.strip()}")
    flash = sum(sections.get(s, 0) for s in (".text", ".data", ".bootloader"))
    ram = sum(sections.get(s, 0) for s in (".data", ".bss", ".noinit"))
    return SizeReport(flash, ram, sections)


def check_size(size: SizeReport, board: Board) -> None:
    """Raise :class:`FirmwareTooLarge` naming the figure that passed its limit."""
    over = []
    if size.flash_bytes > board.flash_limit_bytes:
        over.append(f"flash {size.flash_bytes} B > limit {board.flash_limit_bytes} B")
    if size.ram_bytes > board.ram_limit_bytes:
        over.append(f"static RAM {size.ram_bytes} B > limit {board.ram_limit_bytes} B")
    if over:
        raise FirmwareTooLarge(f"firmware for {board.name} too large: " + "; ".join(over))


def _board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise FirmwareBuildError(
            f"unknown board {name!r}: expected one of {', '.join(sorted(BOARDS))}"
        ) from None


def _run(cmd: list[str], what: str) -> str:
    log.info("%s: %s", what, " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise FirmwareBuildError(f"{what}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        raise FirmwareBuildError(
            f"{what} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr).strip()}"
        )
    return proc.stdout


def build_avr_firmware(board_name: str, *, check: bool = True) -> AvrBuild:
    """Build (or reuse) the firmware for ``board_name`` ("uno" or "mega")."""
    board = _board(board_name)
    missing = missing_packages()
    if missing:
        raise ToolsMissing(
            "the AVR firmware build needs the Debian packages: "
            f"{' '.join(missing)} (apt-get install {' '.join(missing)})"
        )
    sources = sorted(SKETCH_DIR.iterdir()) + [FIRMWARE_DIR / f for f in _CORE_FILES]
    h = hashlib.sha256()
    h.update(board.fqbn.encode())
    h.update(_run(["avr-gcc", "--version"], "avr-gcc --version").encode())
    for src in sources:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    root = cache_dir() / "avr" / f"{board.name}-{h.hexdigest()[:16]}"
    elf = root / "build" / "lunarsite_rover.ino.elf"
    hexfile = root / "build" / "lunarsite_rover.ino.hex"
    if not hexfile.exists():
        sketch = root / "lunarsite_rover"
        if root.exists():
            shutil.rmtree(root)
        sketch.mkdir(parents=True)
        (root / "build").mkdir()
        for src in sources:
            shutil.copy2(src, sketch / src.name)
        _run(
            [
                "arduino-builder",
                "-compile",
                "-quiet",
                "-hardware", str(_HARDWARE),
                "-hardware", str(_BUILDER_PLATFORM),
                "-tools", "/usr/bin",
                "-fqbn", board.fqbn,
                "-build-path", str(root / "build"),
                "-prefs", "compiler.c.extra_flags=-DDECIMAL_DIG=9 -Wall -Wextra",
                "-prefs", "compiler.cpp.extra_flags=-DDECIMAL_DIG=9 -Wall -Wextra",
                str(sketch / "lunarsite_rover.ino"),
            ],
            f"arduino-builder ({board.name})",
        )  # fmt: skip
        if not hexfile.exists():
            raise FirmwareBuildError(f"arduino-builder wrote no {hexfile.name} in {root / 'build'}")
    size = parse_avr_size(_run(["avr-size", "-A", str(elf)], "avr-size"))
    if check:
        check_size(size, board)
    return AvrBuild(board, elf, hexfile, size)


def flash_command(board_name: str, port: str, hexfile: Path) -> list[str]:
    """The avrdude command that writes ``hexfile`` through the board's bootloader."""
    board = _board(board_name)
    return [
        "avrdude",
        "-p", board.avrdude_part,
        "-c", board.avrdude_programmer,
        "-P", port,
        "-b", str(board.upload_baud),
        "-D",
        "-U", f"flash:w:{hexfile}:i",
    ]  # fmt: skip


def flash_firmware(board_name: str, port: str) -> AvrBuild:
    """Build if needed and flash with avrdude; raises naming the port on failure."""
    if shutil.which("avrdude") is None:
        raise ToolsMissing("flashing needs avrdude (apt-get install avrdude)")
    build = build_avr_firmware(board_name)
    _run(flash_command(board_name, port, build.hex), f"avrdude on {port}")
    return build
