"""``lunarsite firmware build|flash``: the reference firmware for AVR Arduinos."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape

from lunarsite.firmware_bridge.avr_build import (
    BOARDS,
    FirmwareTooLarge,
    ToolsMissing,
    build_avr_firmware,
    flash_firmware,
)
from lunarsite.firmware_bridge.build import FirmwareBuildError

__all__ = ["add_firmware_commands", "run_firmware_command"]


def add_firmware_commands(sub: Any) -> None:
    fw = sub.add_parser("firmware", help="build or flash the reference firmware (AVR Arduinos)")
    fw_sub = fw.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")
    build = fw_sub.add_parser("build", help="build offline and print the size report")
    build.add_argument("--board", required=True, choices=sorted(BOARDS))
    flash = fw_sub.add_parser("flash", help="build if needed and flash with avrdude")
    flash.add_argument("--board", required=True, choices=sorted(BOARDS))
    flash.add_argument("--port", required=True, help="the board's serial port")


def run_firmware_command(args: argparse.Namespace, out: Console, console: Console) -> int:
    """Exit status: 0 built (and flashed), 1 too large or the build/flash failed, 2 tools
    missing."""
    board = BOARDS[args.board]
    try:
        if args.firmware_command == "build":
            result = build_avr_firmware(args.board)
        else:
            console.print(f"flashing {board.name} on {args.port} with avrdude", highlight=False)
            result = flash_firmware(args.board, args.port)
    except ToolsMissing as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except FirmwareTooLarge as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    except FirmwareBuildError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    out.print(result.size.text(board), highlight=False, soft_wrap=True)
    out.print(f"  {result.hex}", highlight=False)
    return 0
