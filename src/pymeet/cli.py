"""The `pymeet` console command: one entry point with subcommands.

Each subcommand lives in the layer it belongs to and is imported only when chosen, so
`pymeet server` never imports the GUI and `pymeet chat` never imports the server.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pymeet import __version__

# name -> (module, help). Each module offers add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "server": ("pymeet.server.main", "run the meeting server"),
    "chat": ("pymeet.client.chat_cli", "interactive command-line client"),
    "bot": ("pymeet.client.bot_cli", "headless participant with synthetic or real media"),
    "gui": ("pymeet.gui.app", "the desktop client"),
    "bench": ("pymeet.bench.cli", "measure relay throughput, latency and media costs"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen subcommand's module is imported for its flags."""
    parser = argparse.ArgumentParser(prog="pymeet", description="Self-hosted online meetings.")
    parser.add_argument("--version", action="version", version=f"pymeet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub)
        sub.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(chosen if chosen in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = importlib.import_module(args._module).run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
