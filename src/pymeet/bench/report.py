"""The bench's printed tables, its targets with PASS/FAIL, and its JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGET_ROOMS = 20
TARGET_LOSS_PCT = 1.0
TARGET_P99_MS = 30.0
TARGET_DELIVERY_RATIO = 0.9
TARGET_CAPACITY_RATIO = 0.6
TARGET_RSS_PER_PARTICIPANT = 1024 * 1024
TARGET_VOICE_P95_MS = 120.0
TARGET_VIDEO_P95_MS = 150.0

NAMES = {"server": "pymeet", "bare": "bare forwarder"}


def _num(value: float | None, digits: int = 1, width: int = 0) -> str:
    text = "-" if value is None else f"{value:,.{digits}f}"
    return text.rjust(width)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


RELAY_HEADER = (
    "relay", "rooms", "users", "offered in/s", "expected out/s", "delivered out/s", "loss %",
    "p50 ms", "p99 ms", "relay CPU %", "CPU µs/pkt in", "load gen CPU %", "RSS/user KiB",
)


def relay_row(m: dict[str, Any], label: str | None = None) -> list[str]:
    rss = m.get("rss_per_participant")
    return [
        label or NAMES[m["target"]], str(m["rooms"]), str(m["participants"]),
        _num(m["offered_pps"], 0), _num(m["expected_pps"], 0), _num(m["delivered_pps"], 0),
        _num(m["loss_pct"], 2), _num(m["p50_ms"], 2), _num(m["p99_ms"], 2),
        _num(m["relay_cpu_pct"], 0), _num(m.get("relay_cpu_us_per_packet"), 1),
        _num(m["generator_cpu_pct"], 0),
        "-" if rss is None else _num(rss / 1024, 0),
    ]


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def relay_table(server: dict[str, Any] | None, bare: dict[str, Any] | None) -> str:
    rows = [relay_row(m) for m in (bare, server) if m is not None]
    if server is not None and bare is not None:
        delivery = ratio(server["delivered_pps"], bare["delivered_pps"])
        p50 = ratio(server["p50_ms"], bare["p50_ms"])
        p99 = ratio(server["p99_ms"], bare["p99_ms"])
        cpu = ratio(server["relay_cpu_pct"], bare["relay_cpu_pct"])
        per_packet = ratio(server.get("relay_cpu_us_per_packet"),
                           bare.get("relay_cpu_us_per_packet"))
        rows.append([
            "pymeet / bare", "", "", "", "", _num(delivery, 3), "",
            _num(p50, 2), _num(p99, 2), _num(cpu, 2), _num(per_packet, 2), "", "",
        ])
    return _table(RELAY_HEADER, rows)


def core_capacity(runs: Sequence[dict[str, Any]]) -> str:
    """What one dedicated core would carry at the measured CPU cost per packet: a figure
    that, unlike loss and latency, hardly depends on what else the machine runs."""
    parts = []
    for m in runs:
        cost = m.get("relay_cpu_us_per_packet")
        if cost:
            parts.append(f"{NAMES[m['target']]} {1e6 / cost:,.0f} packets/s in "
                         f"({1e6 / cost / m['offered_pps'] * m['rooms']:.0f} rooms)")
    return "  one dedicated core at the measured CPU cost per packet: " + ", ".join(parts)


def conditions(runs: Sequence[dict[str, Any]]) -> str:
    """How busy the machine was during the measured windows."""
    lines = []
    for m in runs:
        lines.append(
            f"  {NAMES[m['target']]:>14} at {m['rooms']} rooms: "
            f"machine {m['machine_busy_pct']:.0f} % busy of {m['cores'] * 100} % "
            f"(relay {m['relay_cpu_pct']:.0f}, load generator "
            f"{m['generator_cpu_pct']:.0f}, everything else {m['others_cpu_pct']:.0f}); "
            f"kernel drops: relay socket {m['relay_socket_drops']}, generator sockets "
            f"{m['generator_socket_drops']}; send lag max {m['send_lag_max_ms']:.1f} ms; "
            f"p99 as read by the receiving processes {_num(m.get('observed_p99_ms'), 1)} ms"
            + (f"; relay drops {m['relay_drops']}" if m.get("relay_drops") else "")
        )
        probe = m.get("scheduler_probe")
        if probe:
            lines.append(
                f"  {'':>14}   a thread sleeping 1 ms at a time woke up late by up to "
                f"{probe['max_ms']:.1f} ms (p99 {_num(probe['p99_ms'], 2)} ms)"
            )
    return "\n".join(lines)


def ramp_table(steps: Sequence[dict[str, Any]]) -> str:
    rows = [relay_row(m) for m in steps]
    return _table(RELAY_HEADER, rows)


def e2e_table(rows: Sequence[dict[str, Any]]) -> str:
    header = ("preset", "voice p50 ms", "voice p95 ms", "video p50 ms", "video p95 ms",
              "video fps", "video KB/s", "frames timed")
    body = [[
        r["preset"], _num(r["voice_p50_ms"], 1), _num(r["voice_p95_ms"], 1),
        _num(r["video_p50_ms"], 1), _num(r["video_p95_ms"], 1), _num(r["video_fps"], 1),
        _num(r["video_bytes_per_s"] / 1000, 1),
        f"{r['voice_samples']}+{r['video_samples']}",
    ] for r in rows]
    return _table(header, body)


def codec_table(rows: Sequence[dict[str, Any]]) -> str:
    header = ("preset", "size", "quality", "fps", "frame KB", "fragments", "wire KB/s",
              "encode ms", "decode ms")
    body = [[
        r["preset"], r["size"], str(r["quality"]), _num(r["fps"], 0),
        _num(r["frame_bytes"] / 1000, 1), str(r["fragments"]),
        _num(r["wire_bytes_per_s"] / 1000, 1), _num(r["encode_ms"], 2), _num(r["decode_ms"], 2),
    ] for r in rows]
    return _table(header, body)


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, PASS/FAIL/None for not measured, what was measured)."""
    out: list[tuple[str, bool | None, str]] = []
    server, bare = results.get("server"), results.get("bare")
    if server is not None and bare is not None:
        at = f"at {server['rooms']} rooms" + (
            "" if server["rooms"] == TARGET_ROOMS else f" (the target load is {TARGET_ROOMS})")
        out.append((f"loss < {TARGET_LOSS_PCT:g} % {at}", server["loss_pct"] < TARGET_LOSS_PCT,
                    f"{server['loss_pct']:.2f} %"))
        p99 = server["p99_ms"]
        out.append((f"relay p99 < {TARGET_P99_MS:g} ms {at}",
                    None if p99 is None else p99 < TARGET_P99_MS, f"{_num(p99, 2)} ms"))
        delivery = ratio(server["delivered_pps"], bare["delivered_pps"])
        out.append((f"delivery >= {TARGET_DELIVERY_RATIO:g} x the bare forwarder's {at}",
                    None if delivery is None else delivery >= TARGET_DELIVERY_RATIO,
                    f"{_num(delivery, 3)}"))
        rss = server.get("rss_per_participant")
        out.append(("server RSS < 1 MiB per participant",
                    None if rss is None else rss < TARGET_RSS_PER_PARTICIPANT,
                    "-" if rss is None else f"{rss / 1024:.0f} KiB"))
    ramp = results.get("ramp")
    if ramp:
        ours, theirs = ramp.get("server_max_pps"), ramp.get("bare_max_pps")
        capacity = ratio(ours, theirs)
        note = (f"{_num(ours, 0)} vs {_num(theirs, 0)} packets/s in = {_num(capacity, 2)}"
                + (" (bare forwarder never lost: its ceiling is above the ramp)"
                   if ramp.get("bare_unbounded") else ""))
        out.append((f"largest lossless load >= {TARGET_CAPACITY_RATIO:g} x the bare forwarder's",
                    None if capacity is None else capacity >= TARGET_CAPACITY_RATIO, note))
    else:
        out.append((f"largest lossless load >= {TARGET_CAPACITY_RATIO:g} x the bare forwarder's",
                    None, "not measured (run with --ramp)"))
    e2e = results.get("e2e")
    if e2e:
        voice = max((r["voice_p95_ms"] for r in e2e if r["voice_p95_ms"] is not None),
                    default=None)
        video = max((r["video_p95_ms"] for r in e2e if r["video_p95_ms"] is not None),
                    default=None)
        out.append((f"voice capture-to-playout p95 < {TARGET_VOICE_P95_MS:g} ms (worst preset)",
                    None if voice is None else voice < TARGET_VOICE_P95_MS,
                    f"{_num(voice, 1)} ms"))
        out.append((f"video capture-to-display p95 < {TARGET_VIDEO_P95_MS:g} ms (worst preset)",
                    None if video is None else video < TARGET_VIDEO_P95_MS,
                    f"{_num(video, 1)} ms"))
    return out


def targets_text(results: dict[str, Any]) -> str:
    rows = targets(results)
    width = max((len(name) for name, _, _ in rows), default=0)
    return "\n".join(f"  {_verdict(ok)}  {name.ljust(width)}  {measured}"
                     for name, ok, measured in rows)


def write_json(path: Path, results: dict[str, Any]) -> None:
    results = dict(results)
    results["targets"] = [
        {"target": name, "pass": ok, "measured": measured}
        for name, ok, measured in targets(results)
    ]
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
