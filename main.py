"""Quick start from the original spec: `python main.py` starts the PyMeet server.

It accepts every flag of `pymeet server` (see `python main.py --help`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: make `src/` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from pymeet.cli import main

if __name__ == "__main__":
    sys.exit(main(["server", *sys.argv[1:]]))
