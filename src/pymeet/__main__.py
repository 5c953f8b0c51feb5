from __future__ import annotations

from pymeet.cli import main

raise SystemExit(main())
