"""`pymeet server` and `python main.py`: parse settings, set up logging, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pymeet.server import config as config_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_module.add_arguments(parser)


def _event_loop_factory(choice: str) -> type[asyncio.AbstractEventLoop] | None:
    """uvloop when asked for or (``auto``) when installed; None means asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit(
                "pymeet server: --event-loop uvloop, but uvloop is not installed"
            ) from None
        return None
    loop_class: type[asyncio.AbstractEventLoop] = uvloop.Loop
    return loop_class


def run(args: argparse.Namespace) -> int:
    try:
        config = config_module.from_sources(args)
    except ValueError as exc:
        print(f"pymeet server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from pymeet.server.app import serve

    loop_class = _event_loop_factory(config.event_loop)
    logging.getLogger(__name__).info(
        "event loop: %s", "uvloop" if loop_class is not None else "asyncio"
    )
    try:
        with asyncio.Runner(loop_factory=loop_class) as runner:
            return runner.run(serve(config))
    except OSError as exc:
        print(f"pymeet server: cannot start: {exc}", file=sys.stderr)
        return 1
