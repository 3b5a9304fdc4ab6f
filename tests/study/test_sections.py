"""The key under which a study's model section is cached, and reused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from types import SimpleNamespace

import torch

from genlab.evaluation.believability import PerturbationSettings
from genlab.study import sections
from genlab.study.sections import settings_key
from genlab.training.components import weights_digest
from genlab.version import __version__

RUN = SimpleNamespace(checkpoint="runs/x/checkpoints/best.safetensors",
                      meta={"epoch": 3, "step": 30, "tensors_sha256": "ab" * 32})


def test_a_setting_added_later_keeps_the_key_of_sections_written_before_it_while_unset():
    settings = PerturbationSettings(images=64)
    later = ("centroid_images", "refine")  # both added after sections were written
    before = {k: v for k, v in asdict(settings).items() if k not in later}
    state = {"checkpoint": RUN.checkpoint, "epoch": 3, "step": 30, "weights": "ab" * 32,
             "genlab": __version__, "settings": [before]}
    written = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    assert settings_key(RUN, settings) == written
    assert settings_key(RUN, PerturbationSettings(images=64, centroid_images=1000)) != written
    assert settings_key(RUN, PerturbationSettings(images=64, refine=0.3)) != written


def test_a_section_evaluated_by_another_genlab_version_is_not_reused(monkeypatch):
    settings = PerturbationSettings(images=64)
    written = settings_key(RUN, settings)
    monkeypatch.setattr(sections, "__version__", "0.1.0")
    assert settings_key(RUN, settings) != written


def test_a_run_retrained_in_place_has_another_key():
    """Same path, epoch and step, other tensors: the checkpoint's digest tells them apart."""
    settings = PerturbationSettings(images=64)
    retrained = SimpleNamespace(checkpoint=RUN.checkpoint,
                                meta={**RUN.meta, "tensors_sha256": "cd" * 32})
    assert settings_key(retrained, settings) != settings_key(RUN, settings)


def test_a_checkpoint_without_a_digest_is_keyed_on_its_model_weights():
    model = torch.nn.Linear(2, 1)
    old = SimpleNamespace(checkpoint=RUN.checkpoint, meta={"epoch": 3}, model=model)
    assert sections.run_digest(old) == weights_digest(model.state_dict())
    before = settings_key(old, PerturbationSettings())
    with torch.no_grad():
        model.bias.add_(1)
    assert settings_key(old, PerturbationSettings()) != before
