"""The atheris targets (run by hand, see atheris_targets.py) still accept their seed
corpus and a few hostile inputs, so they cannot rot while nobody runs them."""

from __future__ import annotations

import pytest

from tests.fuzz.atheris_targets import SEEDS, TARGETS

HOSTILE = [b"", b"\x00", b"\xff" * 64, b'{"type":"ping","id":NaN}', bytes(range(256)) * 5]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_runs_its_seeds(name: str) -> None:
    inputs = SEEDS[name] + HOSTILE
    for data in inputs:
        TARGETS[name](data)  # raises only on a finding
    print(f"{name}: {len(inputs)} inputs, no finding")
