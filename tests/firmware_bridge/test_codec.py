"""CRC, COBS and the frame layer of the Python host side: published check values,
examples, and property tests that no byte string makes the decoder crash, hang or yield
a frame that was not sent."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.cobs import CobsError, FrameSplitter, cobs_decode, cobs_encode
from lunarsite.firmware_bridge.crc import CRC16_CHECK, crc16_ccitt_false
from lunarsite.firmware_bridge.framing import (
    CrcError,
    Frame,
    FrameError,
    HeaderError,
    PayloadError,
    UnknownMessageError,
    encode_frame,
    parse_frame,
)

PROPS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- CRC
def test_crc16_ccitt_false_check_value() -> None:
    # CRC RevEng catalogue, CRC-16/IBM-3740 (CCITT-FALSE): check = 0x29B1.
    assert crc16_ccitt_false(b"123456789") == CRC16_CHECK == 0x29B1


def test_crc16_empty_is_init_and_is_incremental() -> None:
    assert crc16_ccitt_false(b"") == 0xFFFF
    assert crc16_ccitt_false(b"6789", crc16_ccitt_false(b"12345")) == 0x29B1


# -------------------------------------------------------------------------- COBS
_WIKI = [
    # Cheshire & Baker (1999) examples, as tabulated on Wikipedia's COBS page.
    (bytes([0x00]), bytes([0x01, 0x01])),
    (bytes([0x00, 0x00]), bytes([0x01, 0x01, 0x01])),
    (bytes([0x00, 0x11, 0x00]), bytes([0x01, 0x02, 0x11, 0x01])),
    (bytes([0x11, 0x22, 0x00, 0x33]), bytes([0x03, 0x11, 0x22, 0x02, 0x33])),
    (bytes([0x11, 0x22, 0x33, 0x44]), bytes([0x05, 0x11, 0x22, 0x33, 0x44])),
    (bytes([0x11, 0x00, 0x00, 0x00]), bytes([0x02, 0x11, 0x01, 0x01, 0x01])),
    (bytes(range(1, 255)), bytes([0xFF, *range(1, 255)])),
    (bytes(range(255)), bytes([0x01, 0xFF, *range(1, 255)])),
    (bytes(range(1, 256)), bytes([0xFF, *range(1, 255), 0x02, 0xFF])),
    (bytes([*range(2, 256), 0x00]), bytes([0xFF, *range(2, 256), 0x01, 0x01])),
    (bytes([*range(3, 256), 0x00, 0x01]), bytes([0xFE, *range(3, 256), 0x02, 0x01])),
]


@pytest.mark.parametrize(("raw", "encoded"), _WIKI, ids=[f"example{i}" for i in range(len(_WIKI))])
def test_cobs_published_examples(raw: bytes, encoded: bytes) -> None:
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"", "empty"),
        (bytes([0x05, 0x11, 0x22]), "past the end"),
        (bytes([0x03, 0x11, 0x00, 0x01]), "inside"),
    ],
)
def test_cobs_decode_rejects(bad: bytes, why: str) -> None:
    with pytest.raises(CobsError, match=why):
        cobs_decode(bad)


@PROPS
@given(st.binary(max_size=600))
def test_cobs_round_trip_and_no_zero(data: bytes) -> None:
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + 1 + len(data) // 254
    assert cobs_decode(enc) == data


# ------------------------------------------------------------------------ frames
def _message_strategy() -> st.SearchStrategy[p.Message]:
    bounds = {
        "B": (0, 0xFF),
        "b": (-0x80, 0x7F),
        "H": (0, 0xFFFF),
        "h": (-0x8000, 0x7FFF),
        "I": (0, 0xFFFFFFFF),
        "i": (-0x80000000, 0x7FFFFFFF),
    }

    def one(cls: type[p.Message]) -> st.SearchStrategy[p.Message]:
        args = []
        for code in cls.WIRE:
            if code == "f":
                args.append(st.floats(width=32, allow_nan=False))
            else:
                lo, hi = bounds[code]
                args.append(st.integers(lo, hi))
        return st.builds(cls, *args)

    return st.one_of([one(cls) for cls in p.MESSAGES.values()])


MESSAGE = _message_strategy()


def _decode_all(stream: bytes, chunks: list[int]) -> list[Frame]:
    """Feed ``stream`` in pieces of the given sizes; return every frame that parses."""
    splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
    out = []
    i = 0
    sizes = chunks or [len(stream)]
    k = 0
    while i < len(stream):
        size = max(1, sizes[k % len(sizes)])
        for raw in splitter.feed(stream[i : i + size]):
            assert len(raw) <= p.MAX_DECODED_BYTES
            with contextlib.suppress(FrameError):
                out.append(parse_frame(raw))
        i += size
        k += 1
    return out


def test_every_message_round_trips_within_64_bytes() -> None:
    for type_id, cls in p.MESSAGES.items():
        msg = cls(*([0] * len(cls.WIRE)))
        wire = encode_frame(msg, 200)
        assert len(wire) <= p.MAX_WIRE_BYTES == 64
        assert wire.count(0) == 1 and wire.endswith(b"\x00")
        frame = parse_frame(cobs_decode(wire[:-1]))
        assert frame == Frame(seq=200, message=msg)
        assert type_id == frame.message.TYPE


def test_parse_frame_errors_are_typed() -> None:
    wire = encode_frame(p.Ping(host_us=5), 1)
    raw = bytearray(cobs_decode(wire[:-1]))
    bad_crc = bytes(raw[:-1]) + bytes([raw[-1] ^ 0x01])
    with pytest.raises(CrcError):
        parse_frame(bad_crc)

    def with_crc(body: bytes) -> bytes:
        return body + crc16_ccitt_false(body).to_bytes(2, "little")

    with pytest.raises(HeaderError, match="protocol version 2"):
        parse_frame(with_crc(bytes([2, 0, 0x03, 4, 0, 0, 0, 0])))
    with pytest.raises(HeaderError, match="length field 5"):
        parse_frame(with_crc(bytes([1, 0, 0x03, 5, 0, 0, 0, 0])))
    with pytest.raises(UnknownMessageError, match="0x7F"):
        parse_frame(with_crc(bytes([1, 0, 0x7F, 0])))
    with pytest.raises(PayloadError, match="PING payload is 2 B, expected 4"):
        parse_frame(with_crc(bytes([1, 0, 0x03, 2, 0, 0])))
    with pytest.raises(HeaderError, match="shorter"):
        parse_frame(b"\x01\x02")


def test_pack_refuses_out_of_range_values_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"SETPOINT\.linear_mmps = 40000 does not fit i16"):
        encode_frame(p.Setpoint(session=1, counter=1, linear_mmps=40000, angular_mradps=0), 0)


def test_splitter_discards_overlong_frames_and_resyncs() -> None:
    splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
    good = encode_frame(p.Ping(host_us=7), 3)
    assert splitter.feed(b"\x55" * 500) == []
    assert splitter.feed(b"\x00" + good[:5]) == []
    (raw,) = splitter.feed(good[5:])
    assert parse_frame(raw).message == p.Ping(host_us=7)
    assert splitter.overflows == 1


@PROPS
@given(st.binary(max_size=2000), st.lists(st.integers(1, 80), max_size=20))
def test_random_bytes_never_crash_or_yield_a_frame(data: bytes, chunks: list[int]) -> None:
    assert _decode_all(data, chunks) == []


_MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "zero"]),
    st.integers(0, 10**6),
    st.integers(0, 255),
)


def mutate(stream: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(stream)
    for kind, pos, value in mutations:
        if not out:
            break
        i = pos % len(out)
        if kind == "flip":
            out[i] ^= 1 << (value % 8)
        elif kind == "insert":
            out.insert(i, value)
        elif kind == "delete":
            del out[i]
        else:
            out[i] = 0
    return bytes(out)


@PROPS
@given(
    st.lists(MESSAGE, min_size=1, max_size=12),
    st.lists(_MUTATION, max_size=8),
    st.lists(st.integers(1, 70), max_size=10),
)
def test_corrupted_stream_yields_only_frames_that_were_sent(
    messages: list[p.Message], mutations: list[tuple[str, int, int]], chunks: list[int]
) -> None:
    frames = [Frame(seq=i & 0xFF, message=m) for i, m in enumerate(messages)]
    stream = b"".join(encode_frame(f.message, f.seq) for f in frames)
    got = _decode_all(mutate(stream, mutations), chunks)
    sent = {(f.seq, f.message.TYPE, f.message.pack()) for f in frames}
    for frame in got:
        assert (frame.seq, frame.message.TYPE, frame.message.pack()) in sent
    if not mutations:
        assert [dataclasses.astuple(f.message) for f in got] == [
            dataclasses.astuple(m) for m in messages
        ]


def test_schema_text_names_every_message_and_hash_is_fnv1a() -> None:
    text = p.schema_text()
    assert len(text.splitlines()) == len(p.MESSAGES)
    assert "10 SETPOINT H2R u16 session,u32 counter,i16 linear_mmps,i16 angular_mradps" in text
    # FNV-1a 32 reference values (isthe.com/chongo/tech/comp/fnv).
    assert p.fnv1a32(b"") == 0x811C9DC5
    assert p.fnv1a32(b"a") == 0xE40C292C
    assert p.fnv1a32(b"foobar") == 0xBF9CF968
    assert p.fnv1a32(text.encode()) == p.SCHEMA_HASH


def test_protocol_md_carries_the_same_message_table() -> None:
    from pathlib import Path

    import lunarsite.firmware_bridge as fb

    doc = (Path(fb.__file__).parent / "PROTOCOL.md").read_text(encoding="utf-8")
    assert p.schema_text() in doc.replace("\r\n", "\n")
    assert f"`0x{p.SCHEMA_HASH:08X}`" in doc


def test_udev_rules_cover_latency_modemmanager_and_symlink() -> None:
    from pathlib import Path

    import lunarsite.firmware_bridge as fb

    rules = (Path(fb.__file__).parent / "udev" / "60-lunarsite-rover.rules").read_text()
    lines = [ln for ln in rules.splitlines() if ln and not ln.startswith("#")]
    assert any('ATTR{latency_timer}="1"' in ln and "ftdi_sio" in ln for ln in lines)
    assert sum('ENV{ID_MM_DEVICE_IGNORE}="1"' in ln for ln in lines) >= 3
    assert sum('SYMLINK+="lunarsite-rover"' in ln for ln in lines) >= 3
    for ln in lines:
        assert ln.count('"') % 2 == 0, ln
