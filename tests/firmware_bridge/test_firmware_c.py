"""The C firmware core: its unit tests under AddressSanitizer and UBSan, and its decoder
driven from Python through a ctypes harness (property tests, and the same answers as the
Python decoder on the same corrupted streams)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.build import FIRMWARE_DIR, build_c_tests, build_harness
from lunarsite.firmware_bridge.cobs import FrameSplitter
from lunarsite.firmware_bridge.framing import FrameError, encode_frame, parse_frame
from tests.firmware_bridge.test_codec import _MUTATION, _WIKI, MESSAGE, mutate

PROPS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(build_harness()))
    lib.lsh_feed.restype = ctypes.c_size_t
    lib.lsh_feed.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_uint32),
    ]
    lib.lsh_schema_text.restype = ctypes.c_char_p
    lib.lsh_schema_hash_constant.restype = ctypes.c_uint32
    lib.lsh_crc16.restype = ctypes.c_uint16
    lib.lsh_crc16.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.lsh_cobs_encode.restype = ctypes.c_size_t
    lib.lsh_cobs_encode.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.lsh_payload_size.restype = ctypes.c_int
    lib.lsh_payload_size.argtypes = [ctypes.c_uint8]
    return lib


def c_feed(data: bytes) -> list[bytes]:
    """Every decoded frame the C decoder and parser accept, in order."""
    cap = len(data) + 64
    out = ctypes.create_string_buffer(cap)
    stats = (ctypes.c_uint32 * 4)()
    n = _lib().lsh_feed(data, len(data), out, cap, stats)
    raw = out.raw[:n]
    frames = []
    i = 0
    while i < n:
        k = raw[i]
        frames.append(raw[i + 1 : i + 1 + k])
        i += 1 + k
    assert len(frames) == stats[3]
    return frames


def py_feed(data: bytes) -> list[bytes]:
    splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
    out = []
    for raw in splitter.feed(data):
        try:
            parse_frame(raw)
        except FrameError:
            continue
        out.append(raw)
    return out


def test_c_unit_tests_pass_under_sanitizers() -> None:
    exe = build_c_tests()
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 failed" in proc.stdout
    assert "runtime error" not in proc.stderr  # UBSan
    assert "AddressSanitizer" not in proc.stderr


def test_c_and_python_share_the_schema() -> None:
    lib = _lib()
    assert lib.lsh_schema_text().decode("ascii") == p.schema_text()
    assert lib.lsh_schema_hash_constant() == p.SCHEMA_HASH
    for type_id, cls in p.MESSAGES.items():
        assert lib.lsh_payload_size(type_id) == cls._STRUCT.size, cls.NAME
    assert lib.lsh_payload_size(0x7F) == -1


def test_c_crc_and_cobs_match_published_values() -> None:
    lib = _lib()
    assert lib.lsh_crc16(b"123456789", 9) == 0x29B1
    for raw, encoded in _WIKI:
        out = ctypes.create_string_buffer(len(raw) + 8)
        n = lib.lsh_cobs_encode(raw, len(raw), out, len(out))
        assert out.raw[:n] == encoded


@PROPS
@given(st.binary(max_size=3000))
def test_c_decoder_random_bytes_yield_nothing(data: bytes) -> None:
    assert c_feed(data) == []


@PROPS
@given(st.lists(MESSAGE, min_size=1, max_size=12), st.lists(_MUTATION, max_size=8))
def test_c_decoder_yields_only_sent_frames_and_agrees_with_python(
    messages: list[p.Message], mutations: list[tuple[str, int, int]]
) -> None:
    wires = [encode_frame(m, i & 0xFF) for i, m in enumerate(messages)]
    sent = {w[:-1] for w in wires}
    from lunarsite.firmware_bridge.cobs import cobs_encode

    stream = mutate(b"".join(wires), mutations)
    got_c = c_feed(stream)
    got_py = py_feed(stream)
    assert got_c == got_py
    for raw in got_c:
        assert cobs_encode(raw) in sent


def test_firmware_core_compiles_without_warnings() -> None:
    # The portable core and the virtual rover, with conversions checked as a 16-bit-int
    # target would need them (-Wconversion, -Wsign-conversion).
    cc = shutil.which(os.environ.get("CC", "gcc"))
    assert cc is not None, "a C compiler is needed to build the firmware"
    sources = ("ls_codec.c", "ls_protocol.c", "ls_firmware.c", "virtual_rover.c")
    for flags in ((), ("-DLS_NO_SCHEMA_TEXT",)):
        proc = subprocess.run(
            [
                cc,
                "-std=c99",
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-Wpedantic",
                "-Wconversion",
                "-Wsign-conversion",
                "-Wshadow",
                "-Wdouble-promotion",
                *flags,
                "-I",
                str(FIRMWARE_DIR),
                *(str(FIRMWARE_DIR / s) for s in sources),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
