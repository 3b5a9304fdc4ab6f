"""Three synthetic models (two likelihood scales, a tie, a missing FID) for the page tests:
``a`` and ``c`` binarised, ``b`` a density of 8-bit pixels."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportdata import BINARISED, DENSITY, part

from genlab.report.table import ModelPart


@pytest.fixture
def parts(tmp_path: Path) -> list[ModelPart]:
    return [
        part(tmp_path, "a", {"fid": 10.0, "mean_max_softmax": 0.9, "nll_nats": 90.0},
             BINARISED),
        part(tmp_path, "b", {"fid": 5.0, "mean_max_softmax": 0.7, "nll_nats": -600.0,
                             "nll_8bit_bpd": 1.5}, DENSITY),
        part(tmp_path, "c", {"fid": None, "mean_max_softmax": 0.9, "nll_nats": 80.0},
             BINARISED),
    ]
