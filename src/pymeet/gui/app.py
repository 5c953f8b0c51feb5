"""`pymeet gui`: the desktop client.

Flags override the settings file (`pymeet.gui.settings`) for this run:
``--server host:port`` prefills the server, ``--synthetic-media`` sends a test
pattern and a tone instead of a camera and a microphone (demos, machines without
them), ``--dark`` starts in dark mode.

Top-level imports are light: `pymeet.cli` imports this module to build its parser,
and tkinter is imported only when the app runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``pymeet gui``."""
    parser.add_argument("--server", metavar="HOST:PORT", default=os.environ.get("PYMEET_SERVER"),
                        help="server to show on the login window (default: the last one "
                             "used; env PYMEET_SERVER)")
    parser.add_argument("--synthetic-media", action="store_true", default=None,
                        help="send a moving test pattern and a tone instead of a camera "
                             "and a microphone")
    parser.add_argument("--dark", action="store_true", default=None,
                        help="start in dark mode")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"],
                        help="diagnostics on stderr (default warning)")


def run(args: argparse.Namespace) -> int:
    """Run the app until its window closes; returns the exit status."""
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import tkinter
    except ImportError:
        print("error: Tkinter is missing; install your system's python3-tk package",
              file=sys.stderr)
        return 1
    try:
        from pymeet.gui.controller import GuiApp, GuiOptions
    except ImportError as exc:
        print(f"error: the desktop client needs the 'client' extra ({exc}); "
              "run: pip install 'pymeet[client]'", file=sys.stderr)
        return 1
    try:
        app = GuiApp(GuiOptions(server=args.server, synthetic_media=args.synthetic_media,
                                dark=args.dark))
    except tkinter.TclError as exc:
        print(f"error: cannot open a window ({exc}); is DISPLAY set?", file=sys.stderr)
        return 1
    try:
        app.run()
    except KeyboardInterrupt:
        app.quit()
    return 0


def main() -> int:
    """Run as ``python -m pymeet.gui.app``."""
    parser = argparse.ArgumentParser(prog="pymeet gui", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
