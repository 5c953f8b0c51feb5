"""`pymeet bench` (`make bench`): relay throughput and latency against a bare forwarder,
end-to-end media latency, and what video costs. See docs/PERFORMANCE.md.

The coordinator (this module) starts a real `pymeet server` subprocess, the bare
forwarder and the load-generator workers as separate processes, and runs each
measurement on both relays under the same load, one after the other, reading CPU time,
memory and kernel drop counters from /proc around the measured window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import secrets
import signal
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from pymeet.bench import forwarder, load, report
from pymeet.bench.histogram import merge, percentile_ms, samples
from pymeet.bench.probe import SchedulerProbe
from pymeet.bench.server_process import (
    ServerProcess,
    cpu_seconds,
    machine_busy_seconds,
    rss_bytes,
    udp_drops,
)

ROOM_SIZE = 5
ROOMS_PER_WORKER = 25  # one generator process carries about 35 rooms on one core here
START_DELAY = 0.5  # seconds between the run command and the first packet
GRACE = 1.0  # seconds receivers keep listening after the window closes
QUICK_GRACE = 0.3
LOSS_LIMIT_PCT = report.TARGET_LOSS_PCT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=report.TARGET_ROOMS,
                        help=f"rooms of {ROOM_SIZE} participants (default %(default)s)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds measured per run (default 10; 5 per ramp step)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds of load before each measured window (default 2)")
    parser.add_argument("--ramp", action="store_true",
                        help="step the number of rooms up until each relay loses >= 1 %%")
    parser.add_argument("--ramp-start", type=int, default=10, metavar="ROOMS")
    parser.add_argument("--ramp-step", type=int, default=5, metavar="ROOMS")
    parser.add_argument("--ramp-tries", type=int, default=3, metavar="N",
                        help="attempts per ramp step before a relay counts as losing (default 3)")
    parser.add_argument("--max-rooms", type=int, default=80, metavar="ROOMS",
                        help="where the ramp stops (default 80)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny configuration that finishes in seconds (smoke test)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write every result to this JSON file")
    parser.add_argument("--rooms-per-worker", type=int, default=ROOMS_PER_WORKER, metavar="N",
                        help="rooms each load-generator process plays (default %(default)s): "
                             "fewer, busier processes compete less with the relay")
    parser.add_argument("--open-every", type=int, default=1, metavar="N",
                        help="receivers decrypt every Nth datagram for latency (default 1: all)")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--e2e", action="store_true",
                       help="only the end-to-end latency and video cost measurements")
    parts.add_argument("--no-e2e", action="store_true", help="only the relay measurements")
    parser.add_argument("--e2e-seconds", type=float, default=5.0,
                        help="seconds timed per video preset end to end (default 5)")
    parser.add_argument("--generator-nice", type=int, default=0, metavar="N",
                        help="run the load generator at this nice level (default 0)")
    parser.add_argument("--generator-cpus", type=lambda text: [int(c) for c in text.split(",")],
                        default=None, metavar="LIST",
                        help="pin the load generator to these CPUs, e.g. 1 (default: no pinning)")
    parser.add_argument("--relays", choices=("both", "server", "bare"), default="both",
                        help="which relays to measure (default both; one alone for profiling)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="FLAG",
                        help="extra server flag, e.g. --server-arg=--media-packet-rate=3000")


class WorkerFailed(RuntimeError):
    pass


class Bench:
    """The processes of one bench run, and the measurements made with them."""

    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        self.args = args
        self.scratch = scratch
        self.context = multiprocessing.get_context("spawn")
        self.tag = secrets.token_hex(3)
        self.server = ServerProcess(scratch / "server", list(args.server_arg))
        self.workers: list[tuple[BaseProcess, Connection]] = []
        self.forwarder: tuple[BaseProcess, Connection] | None = None
        self.forwarder_port = 0
        self.rooms = 0
        self.rss_base = 0
        self.cores = os.cpu_count() or 1

    # -- processes -----------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        time.sleep(0.5)
        self.rss_base = rss_bytes(self.server.pid)
        if self.args.e2e:
            return  # no relay measurements: neither forwarder nor load generator
        parent, child = self.context.Pipe()
        process = self.context.Process(target=forwarder.serve, args=(child,), daemon=True,
                                       name="pymeet-bench-forwarder")
        process.start()
        child.close()
        self.forwarder = (process, parent)
        self.forwarder_port = self._receive(parent, process, 30)[1]
    def _spawn_worker(self) -> None:
        index = len(self.workers)
        parent, child = self.context.Pipe()
        spec = {
            "index": index, "host": self.server.host, "port": self.server.port,
            "fingerprint": self.server.fingerprint, "tag": f"{self.tag}{index}",
            "room_size": ROOM_SIZE, "nice": self.args.generator_nice,
            "cpus": self.args.generator_cpus,
        }
        process = self.context.Process(target=load.serve, args=(child, spec), daemon=True,
                                       name=f"pymeet-bench-load-{index}")
        process.start()
        child.close()
        self.workers.append((process, parent))

    def close(self) -> None:
        for _, conn in self.workers:
            with contextlib.suppress(OSError):
                conn.send({"op": "stop"})
        if self.forwarder is not None:
            with contextlib.suppress(OSError):
                self.forwarder[1].send(("stop",))
        for process, _ in [*self.workers, *([self.forwarder] if self.forwarder else [])]:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        self.server.stop()

    @staticmethod
    def _receive(conn: Connection, process: BaseProcess, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not conn.poll(0.5):
            if not process.is_alive():
                raise WorkerFailed(f"{process.name} exited (code {process.exitcode})")
            if time.monotonic() > deadline:
                raise WorkerFailed(f"{process.name} did not answer within {timeout:.0f} s")
        return conn.recv()

    def _call_all(self, commands: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        for (_, conn), command in zip(self.workers, commands, strict=True):
            conn.send(command)
        replies = [self._receive(conn, process, timeout) for process, conn in self.workers]
        for reply in replies:
            if not reply.get("ok"):
                raise WorkerFailed(reply.get("error", "a worker failed"))
        return replies

    # -- measurements --------------------------------------------------------------------

    def grow(self, rooms: int) -> None:
        """Log in the participants of rooms ``self.rooms .. rooms - 1``."""
        if rooms <= self.rooms:
            return
        per_worker = max(1, self.args.rooms_per_worker)
        while len(self.workers) * per_worker < rooms:
            self._spawn_worker()
        commands = [
            {"op": "grow", "rooms": [r for r in range(self.rooms, rooms) if r // per_worker == i]}
            for i in range(len(self.workers))
        ]
        self._call_all(commands, 120 + 2 * rooms)
        self.rooms = rooms

    def relay_stats(self) -> dict[str, Any]:
        process, conn = self.workers[0]
        conn.send({"op": "stats"})
        reply = self._receive(conn, process, 30)
        return reply.get("relay", {}) if reply.get("ok") else {}

    def measure(self, target: str, duration: float) -> dict[str, Any]:
        """One run of the current rooms through ``target`` ("server" or "bare")."""
        if not self.server.alive():
            raise WorkerFailed("the server died:\n" + "\n".join(self.server.output))
        if target == "server":
            host, port = self.server.media
            relay_pid = self.server.pid
        else:
            assert self.forwarder is not None
            host, port = "127.0.0.1", self.forwarder_port
            relay_pid = self.forwarder[0].pid or 0
        prepared = self._call_all(
            [{"op": "prepare", "target": target, "host": host, "port": port}] * len(self.workers),
            120,
        )
        if target == "bare":
            self._load_forwarder_table(prepared)
        generator_ports = {port for r in prepared for port in r["ports"].values()}
        relay_before = self.relay_stats() if target == "server" else {}
        warmup = self.args.warmup
        start = time.monotonic() + START_DELAY
        window_open, window_close = start + warmup, start + warmup + duration
        run = {"op": "run", "start": start, "warmup": warmup, "duration": duration,
               "grace": QUICK_GRACE if self.args.quick else GRACE,
               "open_every": self.args.open_every}
        for _, conn in self.workers:
            conn.send(run)
        worker_pids = [process.pid or 0 for process, _ in self.workers]
        probe = SchedulerProbe(window_open, window_close)
        time.sleep(max(0.0, window_open - time.monotonic()))
        before = self._snapshot(relay_pid, worker_pids, port, generator_ports)
        time.sleep(max(0.0, window_close - time.monotonic()))
        after = self._snapshot(relay_pid, worker_pids, port, generator_ports)
        elapsed = after["at"] - before["at"]
        rss = rss_bytes(self.server.pid) if target == "server" else None
        replies = [self._receive(conn, process, duration + warmup + 120)
                   for process, conn in self.workers]
        for reply in replies:
            if not reply.get("ok"):
                raise WorkerFailed(reply.get("error", "a worker failed"))
        relay_after = self.relay_stats() if target == "server" else {}
        summary = self._summarize(target, duration, elapsed, replies, before, after, rss,
                                  relay_before, relay_after)
        summary["scheduler_probe"] = probe.result()
        return summary

    def _load_forwarder_table(self, prepared: list[dict[str, Any]]) -> None:
        assert self.forwarder is not None
        ports: dict[int, int] = {}
        rooms: list[list[int]] = []
        for reply in prepared:
            ports.update({int(ssrc): port for ssrc, port in reply["ports"].items()})
            rooms.extend(reply["rooms"].values())
        table = {
            ssrc: [("127.0.0.1", ports[other]) for other in members if other != ssrc]
            for members in rooms for ssrc in members
        }
        process, conn = self.forwarder
        conn.send(("table", table))
        self._receive(conn, process, 30)

    def _snapshot(self, relay_pid: int, worker_pids: list[int], relay_port: int,
                  generator_ports: set[int]) -> dict[str, float]:
        busy, total = machine_busy_seconds()
        return {
            "at": time.monotonic(),
            "relay_cpu": cpu_seconds(relay_pid),
            "generator_cpu": sum(cpu_seconds(pid) for pid in worker_pids if pid),
            "machine_busy": busy,
            "machine_total": total,
            "relay_drops": udp_drops({relay_port}),
            "generator_drops": udp_drops(generator_ports),
        }

    def _summarize(
        self, target: str, duration: float, elapsed: float, replies: list[dict[str, Any]],
        before: dict[str, float], after: dict[str, float], rss: int | None,
        relay_before: dict[str, Any], relay_after: dict[str, Any],
    ) -> dict[str, Any]:
        def total(key: str) -> int:
            return sum(int(r[key]) for r in replies)

        audio = merge(r["latency_audio"] for r in replies)
        video = merge(r["latency_video"] for r in replies)
        both = merge([audio, video])
        observed = merge(r["latency_observed"] for r in replies)
        offered, expected, delivered = total("offered"), total("expected"), total("delivered")

        def cpu_pct(key: str) -> float:
            return 100.0 * (after[key] - before[key]) / elapsed

        machine = 100.0 * (after["machine_busy"] - before["machine_busy"]) / elapsed
        relay_drops: dict[str, int] = {}
        for reason, count in (relay_after.get("dropped") or {}).items():
            delta = count - (relay_before.get("dropped") or {}).get(reason, 0)
            if delta:
                relay_drops[reason] = delta
        participants = self.rooms * ROOM_SIZE
        relay_socket_drops = int(after["relay_drops"] - before["relay_drops"])
        return {
            "target": target,
            "rooms": self.rooms,
            "participants": participants,
            "duration": duration,
            "offered": offered,
            "expected": expected,
            "delivered": delivered,
            "offered_pps": offered / duration,
            "expected_pps": expected / duration,
            "delivered_pps": delivered / duration,
            "loss_pct": 100.0 * (1 - delivered / expected) if expected else 100.0,
            "p50_ms": percentile_ms(both, 0.50),
            "p99_ms": percentile_ms(both, 0.99),
            "audio_p50_ms": percentile_ms(audio, 0.50),
            "audio_p99_ms": percentile_ms(audio, 0.99),
            "video_p50_ms": percentile_ms(video, 0.50),
            "video_p99_ms": percentile_ms(video, 0.99),
            "observed_p50_ms": percentile_ms(observed, 0.50),
            "observed_p99_ms": percentile_ms(observed, 0.99),
            "latency_samples": samples(both),
            "relay_cpu_pct": cpu_pct("relay_cpu"),
            # Per datagram the relay actually read: what the kernel dropped at its socket
            # cost it nothing.
            "relay_cpu_us_per_packet": (
                1e6 * (after["relay_cpu"] - before["relay_cpu"])
                / max(1.0, offered * elapsed / duration - relay_socket_drops)
            ),
            "generator_cpu_pct": cpu_pct("generator_cpu"),
            "machine_busy_pct": machine,
            "others_cpu_pct": max(0.0, machine - cpu_pct("relay_cpu") - cpu_pct("generator_cpu")),
            "cores": self.cores,
            "relay_socket_drops": relay_socket_drops,
            "generator_socket_drops": int(after["generator_drops"] - before["generator_drops"]),
            "rss_bytes": rss,
            "rss_per_participant": None if rss is None else (rss - self.rss_base) / participants,
            "relay_drops": relay_drops,
            "bad_tag": total("bad_tag"),
            "stray": total("stray"),
            "send_errors": total("send_errors"),
            "send_lag_max_ms": max(r["send_lag_max_ms"] for r in replies),
            "worst_ms_per_100ms": [max(column) for column in
                                   zip(*(r["worst_ms_per_100ms"] for r in replies), strict=True)],
            "send_lag_mean_ms": max(r["send_lag_mean_ms"] for r in replies),
        }


def say(text: str = "") -> None:
    print(text, flush=True)


def _progress(m: dict[str, Any]) -> None:
    say(f"  {report.NAMES[m['target']]:>14}, {m['rooms']} rooms: "
        f"{m['offered_pps']:,.0f} in/s, {m['delivered_pps']:,.0f} out/s, "
        f"loss {m['loss_pct']:.2f} %, p99 {report._num(m['p99_ms'], 2)} ms, "
        f"relay CPU {m['relay_cpu_pct']:.0f} % "
        f"({report._num(m.get('relay_cpu_us_per_packet'), 1)} µs per packet in)")


def _targets(args: argparse.Namespace) -> tuple[str, ...]:
    return ("bare", "server") if args.relays == "both" else (args.relays,)


def run_relay(bench: Bench, args: argparse.Namespace, results: dict[str, Any]) -> None:
    duration = args.duration or (0.5 if args.quick else 10.0)
    say(f"logging in {args.rooms * ROOM_SIZE} participants in {args.rooms} rooms...")
    bench.grow(args.rooms)
    say(f"  {len(bench.workers)} load-generator process(es)")
    say(f"measuring {duration:g} s per relay after {args.warmup:g} s of warm-up...")
    for target in _targets(args):
        results[target] = bench.measure(target, duration)
        _progress(results[target])


def run_ramp(bench: Bench, args: argparse.Namespace, results: dict[str, Any]) -> None:
    duration = args.duration or (0.5 if args.quick else 5.0)
    steps: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any] | None] = {"bare": None, "server": None}
    alive = {target: target in _targets(args) for target in ("bare", "server")}
    rooms = max(1, args.ramp_start)
    say(f"ramp: from {rooms} rooms by {args.ramp_step} up to {args.max_rooms}, "
        f"{duration:g} s per step")
    while rooms <= args.max_rooms and any(alive.values()):
        bench.grow(rooms)
        for target in ("bare", "server"):
            if not alive[target]:
                continue
            m = bench.measure(target, duration)
            _progress(m)
            for _ in range(args.ramp_tries - 1):
                if m["loss_pct"] < LOSS_LIMIT_PCT:
                    break
                # Again: on a shared machine a neighbour's burst starves either relay for
                # a moment; the step counts as carried if any attempt carries it.
                m = bench.measure(target, duration)
                _progress(m)
            steps.append(m)
            if m["loss_pct"] < LOSS_LIMIT_PCT:
                best[target] = m
            else:
                alive[target] = False
        rooms += max(1, args.ramp_step)
    for target in ("bare", "server"):  # the target load's step also fills the main table
        at_target = [m for m in steps if m["target"] == target
                     and m["rooms"] == report.TARGET_ROOMS]
        if at_target:
            results[target] = at_target[-1]
    ours, theirs = best["server"], best["bare"]
    results["ramp"] = {
        "steps": steps,
        "server_max_rooms": ours and ours["rooms"],
        "server_max_pps": ours and ours["offered_pps"],
        "bare_max_rooms": theirs and theirs["rooms"],
        "bare_max_pps": theirs and theirs["offered_pps"],
        "bare_unbounded": alive["bare"],
    }


def run_e2e(bench: Bench, args: argparse.Namespace, results: dict[str, Any]) -> None:
    try:
        from pymeet.bench import codec, e2e
        from pymeet.client.media import PRESETS
    except ImportError as exc:
        say(f"end to end: skipped ({exc}; install the client extra)")
        return
    presets = ["low"] if args.quick else list(PRESETS)
    seconds = 0.5 if args.quick else args.e2e_seconds
    say(f"end to end: one sender and one receiver through the server, {seconds:g} s per "
        f"preset ({', '.join(presets)})...")
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        measured = runner.run(e2e.measure(
            bench.server.host, bench.server.port, bench.server.fingerprint, bench.scratch,
            presets, seconds, settle=0.5 if args.quick else 1.0,
            tail=0.2 if args.quick else 0.5,
        ))
    results["e2e"] = [m.summary() for m in measured]
    say("video cost: JPEG encode and decode per preset...")
    results["codec"] = codec.measure(frames=3 if args.quick else 60)


def print_results(results: dict[str, Any]) -> None:
    say()
    runs = [results[target] for target in ("bare", "server") if target in results]
    if runs:
        say("Relay throughput and latency (the same load through both relays)")
        say(report.relay_table(results.get("server"), results.get("bare")))
        say(report.core_capacity(runs))
        say()
        say("Conditions")
        say(report.conditions(runs))
        say()
    if results.get("ramp"):
        ramp = results["ramp"]
        say("Ramp (largest load with < 1 % loss)")
        say(report.ramp_table(ramp["steps"]))
        say(f"  largest lossless: pymeet {ramp['server_max_rooms'] or 0} rooms "
            f"({report._num(ramp['server_max_pps'], 0)} in/s), bare forwarder "
            f"{ramp['bare_max_rooms'] or 0} rooms ({report._num(ramp['bare_max_pps'], 0)} in/s)"
            + (" - never lost within the ramp" if ramp["bare_unbounded"] else ""))
        say()
    if results.get("e2e"):
        say("End to end through the server (capture to playout / display)")
        say(report.e2e_table(results["e2e"]))
        say()
    if results.get("codec"):
        say("Video cost per preset (one stream)")
        say(report.codec_table(results["codec"]))
        say()
    say("Targets")
    say(report.targets_text(results))


def run(args: argparse.Namespace) -> int:
    if args.quick:
        args.rooms = min(args.rooms, 1)
        args.warmup = min(args.warmup, 0.5)
        args.ramp_start, args.ramp_step, args.max_rooms = 1, 1, min(args.max_rooms, 2)
    results: dict[str, Any] = {"config": {k: str(v) for k, v in vars(args).items()
                                          if not k.startswith("_")}}
    # SIGTERM unwinds like Ctrl-C, so the server and the workers are always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="pymeet-bench-") as scratch:
        bench = Bench(args, Path(scratch))
        try:
            bench.start()
            say(f"server pid {bench.server.pid}: control {bench.server.host}:{bench.server.port}"
                f", media {bench.server.media[0]}:{bench.server.media[1]}"
                + (f"; bare forwarder 127.0.0.1:{bench.forwarder_port}"
                   if bench.forwarder_port else ""))
            if not args.e2e:
                if args.ramp:
                    run_ramp(bench, args, results)
                else:
                    run_relay(bench, args, results)
            if not args.no_e2e:
                run_e2e(bench, args, results)
        except (Exception, KeyboardInterrupt) as exc:
            say(f"pymeet bench: failed: {exc!r}")
            traceback.print_exc(file=sys.stderr)
            return 1
        finally:
            bench.close()
    print_results(results)
    if args.json:
        report.write_json(args.json, results)
        say(f"\nresults written to {args.json}")
    return 0
