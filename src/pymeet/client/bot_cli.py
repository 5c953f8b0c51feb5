"""`pymeet bot`: a headless participant with synthetic or real media.

It logs in, joins (or creates) a room, sends video and audio from the chosen sources,
and prints what it receives every ``--stats-interval`` seconds: per member the frame
rate, the last frame number read from a synthetic camera's marker, the audio level,
loss and jitter; and its own path (UDP or tunnel) and round-trip time. Two bots in two
terminals therefore show each other's frames and levels::

    PYMEET_PASSWORD=... pymeet bot --user alice --register --email a@example.org \\
        --room demo --trust --synthetic-video --tone 440

Missing hardware (``--camera``, ``--microphone``, ``--speaker`` on a machine without
them) is reported in one clear line each, and the bot carries on with the rest.

Output lines are stable enough for scripts: ``peer NAME: video F fps, frame N (sender
id S) ... | audio L dBFS ...``. Exit status: 0 after a normal end (``--duration``
elapsed, Ctrl-C, SIGTERM), 1 when the server could not be used, 2 for bad arguments.

Top-level imports are light: `pymeet.cli` imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_arguments", "run"]

PASSWORD_ENV = "PYMEET_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``pymeet bot``."""
    from pymeet.client.chat_cli import DEFAULT_SERVER

    parser.add_argument("--server", default=os.environ.get("PYMEET_SERVER", DEFAULT_SERVER),
                        metavar="HOST:PORT",
                        help=f"server control address (default {DEFAULT_SERVER}; "
                             "env PYMEET_SERVER)")
    parser.add_argument("--user", required=True, metavar="NAME",
                        help="log in as this user (or email); the password comes from "
                             f"${PASSWORD_ENV} or a prompt")
    parser.add_argument("--register", action="store_true",
                        help="create the account --user with --email first (an existing "
                             "account is fine)")
    parser.add_argument("--email", help="email address for --register")
    parser.add_argument("--room", required=True, metavar="NAME",
                        help="join this room (created first if it does not exist)")
    parser.add_argument("--room-password", metavar="PASSWORD",
                        help="password of a locked room")
    parser.add_argument("--trust", action="store_true",
                        help="trust a server seen for the first time without asking")
    parser.add_argument("--fingerprint", metavar="SHA256",
                        help="accept only the server with this certificate fingerprint")
    parser.add_argument("--known-servers", metavar="PATH",
                        help="file of pinned server fingerprints")
    video = parser.add_mutually_exclusive_group()
    video.add_argument("--synthetic-video", action="store_true",
                       help="send a moving test pattern carrying its frame number")
    video.add_argument("--camera", type=int, metavar="N", help="send camera number N")
    parser.add_argument("--sender-id", type=int, metavar="ID",
                        help="id drawn into the synthetic video (default: from the user name)")
    audio = parser.add_mutually_exclusive_group()
    audio.add_argument("--tone", type=float, metavar="HZ", help="send a sine tone")
    audio.add_argument("--wav", metavar="FILE", help="send a WAV file, looped")
    audio.add_argument("--microphone", nargs="?", type=int, default=False, const=True,
                       metavar="DEVICE",
                       help="send the default microphone, or PortAudio device DEVICE")
    parser.add_argument("--speaker", nargs="?", type=int, default=False, const=True,
                        metavar="DEVICE",
                        help="play what is received on the default speaker, or on "
                             "PortAudio device DEVICE")
    parser.add_argument("--preset", default="low", choices=["low", "medium", "high"],
                        help="outgoing video quality (default low)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                        help="leave after this long (default: run until interrupted)")
    parser.add_argument("--stats-interval", type=float, default=2.0, metavar="SECONDS",
                        help="print receive statistics this often (default 2)")
    parser.add_argument("--media-address", metavar="HOST:PORT",
                        help="send media datagrams here instead of the server's media port "
                             "(a test proxy)")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"],
                        help="diagnostics on stderr (default warning)")


def run(args: argparse.Namespace) -> int:
    """Run the bot; returns the exit status (see the module docstring)."""
    import asyncio
    import logging

    from pymeet.client.chat_cli import parse_server

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host, port = parse_server(args.server)
        media_address = parse_server(args.media_address) if args.media_address else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.register and not args.email:
        print("error: --register needs --email", file=sys.stderr)
        return 2
    if args.stats_interval <= 0 or args.duration < 0:
        print("error: --stats-interval must be positive and --duration not negative",
              file=sys.stderr)
        return 2
    if args.sender_id is not None and not 0 <= args.sender_id <= 0xFFFF:
        print("error: --sender-id must be in 0..65535", file=sys.stderr)
        return 2
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            print(f"error: no password: set ${PASSWORD_ENV} (stdin is not a terminal)",
                  file=sys.stderr)
            return 2
        import getpass

        password = getpass.getpass(f"Password for {args.user}: ")
    from pymeet.client.media.bot import Bot

    bot = Bot(args, host, port, password, media_address)
    try:
        return asyncio.run(bot.run())
    except KeyboardInterrupt:
        return 0
