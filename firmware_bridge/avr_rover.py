"""Start the AVR rover: the Arduino firmware's own binary running in simavr.

>>> with AvrRover(board="uno", log_path=Path("applied.jsonl")) as rover:  # doctest: +SKIP
...     link = SerialLink(LinkConfig(port=rover.port))

The same interface as :class:`~.virtual_rover.VirtualRover` (port, log in the same JSON
lines, stop), so the bridge's tests and firmware in the loop run against either. The
firmware is built for the board with Debian's Arduino core (:mod:`.avr_build`) and the
host (``firmware/avr_host/``) with the system C compiler against Debian's simavr. With
``stats_path`` the host writes, when it stops, the AVR's cycles, sleep cycles, CPU share
and the worst main-loop iteration in cycles.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from .avr_build import BOARDS, build_avr_firmware, missing_packages
from .build import AVR_HOST_PACKAGES, FirmwareBuildError, build_avr_host
from .virtual_rover import VirtualRover, VirtualRoverError

__all__ = ["AvrRover", "avr_missing_packages"]

log = logging.getLogger(__name__)


def avr_missing_packages() -> list[str]:
    """Debian packages the AVR rover needs that are not installed."""
    missing = missing_packages()
    if shutil.which("simavr") is None:
        missing.append("simavr")
    if not Path("/usr/include/simavr/sim_avr.h").exists():
        missing.append("libsimavr-dev")
    return missing


class AvrRover(VirtualRover):
    """A running simavr process with the firmware for ``board`` ("uno" or "mega")."""

    def __init__(
        self,
        *,
        board: str = "uno",
        log_path: Path | None = None,
        link_path: Path | None = None,
        boot_count: int | None = None,
        stats_path: Path | None = None,
        plant_fd: int | None = None,
        ticks_per_rev: int | None = None,
    ) -> None:
        super().__init__(
            log_path=log_path, link_path=link_path, plant_fd=plant_fd, ticks_per_rev=ticks_per_rev
        )
        if board not in BOARDS:
            raise VirtualRoverError(f"unknown board {board!r}: expected one of {sorted(BOARDS)}")
        self.board = board
        self.name = f"AVR rover ({board}, simavr)"
        self.stats_path = stats_path
        self._firmware: Path | None = None
        if boot_count is not None:
            self._args += ["--boot-count", str(boot_count)]
        if stats_path is not None:
            self._args += ["--stats", str(stats_path)]

    def _resolve_executable(self) -> Path:
        missing = avr_missing_packages()
        if missing:
            raise FirmwareBuildError(
                f"the AVR rover needs the Debian packages {' '.join(missing)} "
                f"(apt-get install {' '.join(missing)}; the host needs {AVR_HOST_PACKAGES})"
            )
        build = build_avr_firmware(self.board)
        self._args = [
            "--firmware", str(build.elf), "--mcu", build.board.mcu,
            *[a for a in self._args if a not in ("--firmware", "--mcu")],
        ]  # fmt: skip
        return build_avr_host()

    def read_stats(self) -> dict[str, Any]:
        """The host's figures (after :meth:`stop`)."""
        if self.stats_path is None:
            raise VirtualRoverError("the AVR rover was started without stats_path")
        data: dict[str, Any] = json.loads(self.stats_path.read_text())
        return data
