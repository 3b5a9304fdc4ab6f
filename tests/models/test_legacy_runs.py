"""Run directories written by genlab 0.2.0.dev0 (commit aca5c07, before ``models/`` was
layered into core, parts and families) still open, sample and score as they did then.

``legacy_runs/`` holds six tiny one-epoch runs of that version (config, summary, best
checkpoint) and ``reference.safetensors`` the samples and log-likelihoods they gave when written.
Other machines compute the same networks with other kernels, hence a tolerance, not equality.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genlab

HERE = Path(__file__).parent / "legacy_runs"
REFERENCE = load_file(HERE / "reference.safetensors")
FAMILIES = sorted({key.split(".")[0] for key in REFERENCE})


@pytest.mark.parametrize("family", FAMILIES)
def test_a_run_written_before_the_layered_models_opens_unchanged(family: str) -> None:
    run = genlab.load(HERE / family)
    assert run.config.model.name == family
    if f"{family}.sample" in REFERENCE:
        torch.testing.assert_close(run.sample(4, seed=0), REFERENCE[f"{family}.sample"],
                                   atol=1e-4, rtol=1e-4)
    if f"{family}.log_likelihood" in REFERENCE:
        sel = run.select(split="test", n=4)
        torch.manual_seed(0)
        log_p = run.model.log_likelihood(sel.x, sel.y, k=8).float()
        torch.testing.assert_close(log_p, REFERENCE[f"{family}.log_likelihood"],
                                   atol=1e-2, rtol=1e-5)
