"""`pymeet chat`: an interactive line client for meeting people in a terminal.

Lines starting with ``/`` are commands (``/help`` lists them); any other line is sent
to the current room. Incoming events are shown as they arrive, with local times.

It works the same when stdin is a pipe: lines are handled one after another, each
waiting for its reply, and end of input logs out and exits once everything is shown.
Where a password is needed it comes from ``$PYMEET_PASSWORD``, else a hidden prompt on
a terminal, else the next input line (for scripts).

The top-level imports are kept light: `pymeet.cli` imports this module to build its
argument parser, and the client core is imported only by `run`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["DEFAULT_SERVER", "add_arguments", "parse_server", "run"]

DEFAULT_SERVER = "127.0.0.1:7400"
DEFAULT_PORT = 7400


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``pymeet chat``."""
    parser.add_argument("--server", default=os.environ.get("PYMEET_SERVER", DEFAULT_SERVER),
                        metavar="HOST:PORT",
                        help=f"server control address (default {DEFAULT_SERVER}; "
                             "env PYMEET_SERVER)")
    parser.add_argument("--user", metavar="NAME",
                        help="log in as this user (or email) on start; the password comes "
                             "from $PYMEET_PASSWORD or a prompt")
    parser.add_argument("--register", action="store_true",
                        help="create the account --user with --email first, then log in")
    parser.add_argument("--email", help="email address for --register")
    parser.add_argument("--room", metavar="NAME", help="join this room on start")
    parser.add_argument("--trust", action="store_true",
                        help="trust a server seen for the first time without asking")
    parser.add_argument("--fingerprint", metavar="SHA256",
                        help="accept only the server with this certificate fingerprint")
    parser.add_argument("--known-servers", metavar="PATH",
                        help="file of pinned server fingerprints (default "
                             "$PYMEET_KNOWN_SERVERS or ~/.config/pymeet/known_servers.json)")
    parser.add_argument("--forget-server", action="store_true",
                        help="remove the pinned fingerprint of --server before connecting")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"],
                        help="diagnostics on stderr (default warning)")


def parse_server(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` -> (host, port). Raises ValueError."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"cannot read the server address {text!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"the server address {text!r} has no host")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"the server address {text!r} has no valid port")
    return host, int(port_text)


def run(args: argparse.Namespace) -> int:
    """Run the client until /quit, end of input, Ctrl-C or a lost session; the exit
    status is 0 after a normal end, 1 when the server could not be used, 2 for bad
    arguments."""
    import asyncio

    from pymeet.client.chat_app import ChatApp
    from pymeet.client.known_servers import KnownServers, host_port_key

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        host, port = parse_server(args.server)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.register and not (args.user and args.email):
        print("error: --register needs --user and --email", file=sys.stderr)
        return 2
    # The server's rules, checked before anyone is asked for a password.
    from pymeet.protocol.errors import InvalidField
    from pymeet.protocol.validation import check_email, check_login_identifier, check_username

    try:
        if args.register:
            check_username(args.user, "--user")
            check_email(args.email, "--email")
        elif args.user:
            check_login_identifier(args.user, "--user")
    except InvalidField as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    known = KnownServers(args.known_servers)
    if args.forget_server:
        key = host_port_key(host, port)
        if known.remove(key):
            print(f"forgot the pinned fingerprint of {key}", flush=True)
        else:
            print(f"no fingerprint was pinned for {key}", flush=True)
    app = ChatApp(args, host, port, known)
    try:
        return asyncio.run(app.run())
    except KeyboardInterrupt:
        return 130
