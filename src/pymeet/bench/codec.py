"""What video costs per preset: JPEG encode and decode time per frame, frame size, and
the bytes per second one video stream puts on the wire.

Frames come from `SyntheticCamera` at the preset's size: a textured colour pattern
that scrolls and carries a moving box, so every frame differs and weighs about what a
webcam frame weighs (a flat image would flatter both the time and the size).
"""

from __future__ import annotations

import time
from typing import Any

from pymeet.bench.histogram import percentiles_of
from pymeet.protocol.media_packet import MAX_VIDEO_FRAGMENT_PAYLOAD, TAG_SIZE, VIDEO_HEADER_SIZE


def measure(frames: int = 60) -> list[dict[str, Any]]:
    """One row per preset of `pymeet.client.media.PRESETS` (``frames`` frames each)."""
    from pymeet.client.media import PRESETS, SyntheticCamera, decode_jpeg, encode_jpeg

    rows = []
    for preset in PRESETS.values():
        camera = SyntheticCamera(3, preset.width, preset.height, preset.fps)
        camera.open()
        for _ in range(3):  # warm up: the background is drawn on the first read
            data = encode_jpeg(camera.read(), preset)
            assert data is not None
            decode_jpeg(data)
        encode_ms: list[float] = []
        decode_ms: list[float] = []
        sizes: list[int] = []
        for _ in range(frames):
            image = camera.read()
            started = time.perf_counter()
            data = encode_jpeg(image, preset)
            encoded = time.perf_counter()
            assert data is not None
            decoded = decode_jpeg(data)
            done = time.perf_counter()
            assert decoded is not None
            encode_ms.append((encoded - started) * 1e3)
            decode_ms.append((done - encoded) * 1e3)
            sizes.append(len(data))
        camera.close()
        mean_size = sum(sizes) / len(sizes)
        fragments = -(-mean_size // MAX_VIDEO_FRAGMENT_PAYLOAD)
        wire = mean_size + fragments * (VIDEO_HEADER_SIZE + TAG_SIZE)
        encode_p50, = percentiles_of(encode_ms, 0.5)
        decode_p50, = percentiles_of(decode_ms, 0.5)
        rows.append({
            "preset": preset.name,
            "size": f"{preset.width}x{preset.height}",
            "quality": preset.quality,
            "fps": preset.fps,
            "frame_bytes": round(mean_size),
            "fragments": int(fragments),
            "wire_bytes_per_s": round(wire * preset.fps),
            "encode_ms": round(encode_p50 or 0.0, 3),
            "decode_ms": round(decode_p50 or 0.0, 3),
        })
    return rows
