"""Quick start from the original spec: ``python -m Client.meeting_gui_client`` opens
the PyMeet desktop client.

It accepts every flag of ``pymeet gui`` (see ``python -m Client.meeting_gui_client
--help``), and runs from a source checkout without installing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: make `src/` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from pymeet.cli import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
