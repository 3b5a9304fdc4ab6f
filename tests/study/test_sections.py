"""The key under which a study's model section is cached, and reused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from types import SimpleNamespace

from genlab.evaluation.believability import PerturbationSettings
from genlab.study import sections
from genlab.study.sections import settings_key
from genlab.version import __version__

RUN = SimpleNamespace(checkpoint="runs/x/checkpoints/best.safetensors",
                      meta={"epoch": 3, "step": 30})


def test_a_setting_added_later_keeps_the_key_of_sections_written_before_it_while_unset():
    settings = PerturbationSettings(images=64)
    later = ("centroid_images", "refine")  # both added after sections were written
    before = {k: v for k, v in asdict(settings).items() if k not in later}
    state = {"checkpoint": RUN.checkpoint, "epoch": 3, "step": 30, "genlab": __version__,
             "settings": [before]}
    written = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    assert settings_key(RUN, settings) == written
    assert settings_key(RUN, PerturbationSettings(images=64, centroid_images=1000)) != written
    assert settings_key(RUN, PerturbationSettings(images=64, refine=0.3)) != written


def test_a_section_evaluated_by_another_genlab_version_is_not_reused(monkeypatch):
    settings = PerturbationSettings(images=64)
    written = settings_key(RUN, settings)
    monkeypatch.setattr(sections, "__version__", "0.1.0")
    assert settings_key(RUN, settings) != written
