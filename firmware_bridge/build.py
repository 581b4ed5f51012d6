"""Build the firmware core for this machine with the system C compiler.

Outputs go to a cache folder keyed by a hash of the sources, flags and compiler
(``$LUNARSITE_CACHE_DIR``, else ``$XDG_CACHE_HOME/lunarsite``, else ``~/.cache/lunarsite``),
never into the source tree; a second call with unchanged sources reuses the result.
Only ``gcc`` (or ``$CC``) is needed: no make, no socat, no simavr.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

__all__ = [
    "FIRMWARE_DIR",
    "FirmwareBuildError",
    "build_avr_host",
    "build_c_tests",
    "build_core_library",
    "build_harness",
    "build_virtual_rover",
    "cache_dir",
]

log = logging.getLogger(__name__)

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
_CORE = ("ls_codec.c", "ls_protocol.c", "ls_firmware.c")
_HEADERS = ("ls_codec.h", "ls_protocol.h", "ls_firmware.h")
_WARN = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror=implicit-function-declaration")


class FirmwareBuildError(RuntimeError):
    """The C compiler is missing or the firmware did not compile."""


def cache_dir() -> Path:
    """Where build outputs go (created on demand)."""
    env = os.environ.get("LUNARSITE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lunarsite"


def _compiler() -> str:
    cc = os.environ.get("CC", "gcc")
    path = shutil.which(cc)
    if path is None:
        raise FirmwareBuildError(
            f"C compiler {cc!r} not found on PATH: install gcc (Debian: apt install gcc) or set CC"
        )
    return path


@cache
def _compiler_id(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FirmwareBuildError(f"cannot run C compiler {cc!r}: {exc}") from None
    return out.stdout.splitlines()[0] if out.stdout else cc


def _build(
    name: str,
    sources: tuple[str, ...],
    flags: tuple[str, ...],
    libs: tuple[str, ...],
    headers: tuple[str, ...] = (),
) -> Path:
    cc = _compiler()
    h = hashlib.sha256()
    h.update(_compiler_id(cc).encode())
    h.update("\0".join((*flags, *libs)).encode())
    for src in sorted({*sources, *_HEADERS, *headers}):
        h.update(src.encode())
        h.update((FIRMWARE_DIR / src).read_bytes())
    out_dir = cache_dir() / "firmware" / h.hexdigest()[:16]
    target = out_dir / name
    if target.exists():
        return target
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FirmwareBuildError(f"cannot create build folder {out_dir}: {exc}") from None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    os.close(fd)
    cmd = [
        cc,
        *flags,
        "-I",
        str(FIRMWARE_DIR),
        *(str(FIRMWARE_DIR / s) for s in sources),
        "-o",
        tmp_name,
        *libs,
    ]
    log.info("building %s: %s", name, " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        os.unlink(tmp_name)
        raise FirmwareBuildError(f"cannot run {cc}: {exc}") from None
    if proc.returncode != 0:
        os.unlink(tmp_name)
        raise FirmwareBuildError(
            f"building {name} failed ({cc} exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    os.chmod(tmp_name, 0o755)
    os.replace(tmp_name, target)  # atomic: a concurrent build sees all or nothing
    return target


def build_virtual_rover() -> Path:
    """The virtual rover executable (firmware core + motor model + pty)."""
    return _build(
        "virtual_rover",
        (*_CORE, "plant_channel.c", "virtual_rover.c"),
        (*_WARN, "-O2", "-g"),
        ("-lm",),
        ("plant_channel.h", "motor_model.h"),
    )


AVR_HOST_PACKAGES = ("simavr", "libsimavr-dev")
"""Debian packages the AVR host needs (libsimavrparts1 comes with libsimavr-dev)."""


def build_avr_host() -> Path:
    """The simavr host that runs the AVR firmware binary (``avr_host/``), linked against
    Debian's libsimavr and libsimavrparts (uart_pty)."""
    if not Path("/usr/include/simavr/sim_avr.h").exists():
        raise FirmwareBuildError(
            "the AVR host needs the Debian packages " + " ".join(AVR_HOST_PACKAGES)
        )
    host = ("avr_host/avr_rover.c", "avr_host/avr_plant.c", "avr_host/event_log.c")
    return _build(
        "avr_rover",
        (*host, "plant_channel.c"),
        ("-std=gnu99", "-Wall", "-Wextra", "-O2", "-g", "-I", str(FIRMWARE_DIR / "avr_host"),
         "-I", "/usr/include/simavr"),
        ("-lsimavr", "-lsimavrparts", "-lm", "-lpthread", "-lutil"),
        ("avr_host/avr_plant.h", "avr_host/event_log.h", "plant_channel.h", "motor_model.h"),
    )  # fmt: skip


def build_harness() -> Path:
    """A shared library of the C codec for ctypes (``lsh_*`` functions), with UBSan."""
    return _build(
        "libls_harness.so",
        ("ls_codec.c", "ls_protocol.c", "ls_harness.c"),
        (
            *_WARN,
            "-O1",
            "-g",
            "-shared",
            "-fPIC",
            "-fsanitize=undefined,float-cast-overflow",
            "-fno-sanitize-recover=undefined,float-cast-overflow",
        ),
        (),
    )


def build_core_library() -> Path:
    """A shared library of the firmware core (``ls_*`` functions: mixing, odometry, the
    protocol) for ctypes, so tests can hold the host's models against the C ones."""
    return _build(
        "libls_core.so",
        _CORE,
        (*_WARN, "-O2", "-g", "-shared", "-fPIC"),
        ("-lm",),
    )


def build_c_tests() -> Path:
    """The C unit tests, with AddressSanitizer and UndefinedBehaviorSanitizer."""
    return _build(
        "test_firmware",
        (*_CORE, "test_firmware.c"),
        (
            *_WARN,
            "-O1",
            "-g",
            # float-cast-overflow is not part of GCC's "undefined" group: name it.
            "-fsanitize=address,undefined,float-cast-overflow",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ),
        ("-lm",),
    )
