"""Coverage-guided fuzz targets for atheris: long runs that pytest never starts.

The Hypothesis tests beside this file run in every test run, for a bounded number of
examples. For a deeper search, let libFuzzer mutate inputs under coverage guidance::

    .venv/bin/pip install atheris
    .venv/bin/python -m tests.fuzz.atheris_targets frames   -max_total_time=600
    .venv/bin/python -m tests.fuzz.atheris_targets requests -max_total_time=600 corpus/
    .venv/bin/python -m tests.fuzz.atheris_targets media    -max_total_time=600

Each target feeds one input to the pure protocol layer exactly as the server would and
lets through only the documented exceptions (`ProtocolError` and its subclasses, which
include `MediaPacketError`); anything else is a crash that libFuzzer saves as
``crash-<hash>``. `SEEDS` is a small starting corpus, also used by
`test_atheris_seeds.py` so the targets cannot rot unnoticed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from pymeet.protocol.errors import LocalProtocolError, ProtocolError
from pymeet.protocol.framing import FrameDecoder, encode_frame
from pymeet.protocol.media_packet import CLIENT_TO_SERVER, Kind, MediaCipher, MediaHeader, peek
from pymeet.protocol.messages import parse_request, validate_fields

_CIPHER = MediaCipher(bytes(range(32)))


def fuzz_frames(data: bytes) -> None:
    """The first byte picks the decoder's limit and the chunk size; the rest is the stream."""
    if not data:
        return
    decoder = FrameDecoder(max_size=1 + data[0] * 257)
    step = 1 + (data[0] % 17)
    stream = data[1:]
    try:
        for start in range(0, len(stream), step):
            decoder.receive_data(stream[start : start + step])
            while True:
                try:
                    if decoder.next_frame() is None:
                        break
                except ProtocolError as exc:
                    if exc.code == "frame_too_large":
                        raise
    except ProtocolError:
        try:
            decoder.next_frame()
        except LocalProtocolError:
            return  # documented: a decoder is unusable after frame_too_large
        raise AssertionError("decoder still usable after frame_too_large") from None


def fuzz_requests(data: bytes) -> None:
    """One frame payload through the server's envelope and field checks."""
    with contextlib.suppress(ProtocolError):
        validate_fields(parse_request(data))


def fuzz_media(data: bytes) -> None:
    """One datagram through the relay's checks, as a client and as the server sees it."""
    for check in (peek, MediaHeader.parse, lambda d: _CIPHER.open(CLIENT_TO_SERVER, d)):
        with contextlib.suppress(ProtocolError):
            check(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "frames": fuzz_frames,
    "requests": fuzz_requests,
    "media": fuzz_media,
}

SEEDS: dict[str, list[bytes]] = {
    "frames": [
        b"\x05" + encode_frame(b'{"type":"ping","id":1}'),
        b"\x00" + b"\x00\x00\x00\x00" + encode_frame(b"x"),
        b"\xff" + b"\xff\xff\xff\xff",
    ],
    "requests": [
        b'{"type":"hello","id":1,"client":"x","protocol":1}',
        b'{"type":"auth.register","id":2,"username":"alice","email":"a@b.org",'
        b'"password":"12345678"}',
        b'{"type":"chat.send","id":3,"text":"a\\ud800"}',
        b'{"type":"room.join","id":9007199254740991,"room":"Ph\xc3\xb2ng h\xe1\xbb\x8dp 1"}',
        b"[" * 5000,
    ],
    "media": [
        _CIPHER.seal(CLIENT_TO_SERVER, MediaHeader(Kind.AUDIO, 7, 1, 320), bytes(640)),
        _CIPHER.seal(CLIENT_TO_SERVER, MediaHeader(Kind.VIDEO, 7, 2, 0, 1, 0, 1), b"jpeg"),
        _CIPHER.seal(CLIENT_TO_SERVER, MediaHeader(Kind.PING, 7, 3, 0), bytes(8)),
        bytes(1201),
    ],
}


def main(argv: list[str]) -> None:  # pragma: no cover - needs atheris
    if len(argv) < 2 or argv[1] not in TARGETS:
        raise SystemExit(f"usage: {argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    import atheris  # type: ignore[import-not-found]

    target = TARGETS[argv[1]]
    atheris.instrument_all()  # coverage feedback from the already imported protocol layer
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv)
