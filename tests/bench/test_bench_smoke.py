"""`pymeet bench --quick`: the bench runs end to end and prints its tables.

Speed is never asserted here (STYLE.md habit 10): only that every measurement ran and
every row and target line is printed, and that the JSON file holds the same results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.timeouts import timeout


def test_quick_bench_prints_its_tables_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "pymeet", "bench", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=timeout(90), env=env, check=False,
    )
    text = result.stdout
    assert result.returncode == 0, f"{text}\n{result.stderr}"
    for line in ("Relay throughput and latency", "bare forwarder ", "pymeet ",
                 "pymeet / bare", "End to end through the server", "Video cost per preset",
                 "Targets"):
        assert line in text, f"missing {line!r} in:\n{text}"
    for preset in ("low", "medium", "high"):
        assert any(row.startswith(preset + " ") for row in text.splitlines()), text
    targets = text.split("\nTargets\n", 1)[1].split("\n\n", 1)[0].splitlines()
    verdicts = [row.split()[0] for row in targets]
    assert len(verdicts) == 7 and set(verdicts) <= {"PASS", "FAIL", "n/a"}, text

    results = json.loads(out.read_text())
    for target in ("server", "bare"):
        run = results[target]
        assert run["expected"] > 0 and run["delivered"] > 0, run
        assert run["bad_tag"] == 0, run  # everything relayed opened with the right key
        assert run["latency_samples"] > 0, run
    assert results["e2e"][0]["preset"] == "low"
    assert len(results["targets"]) == 7
