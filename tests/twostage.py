"""Building a family that is built on other runs without those runs (tests of shipped configs,
whose first stage is a run directory that is not there): each component an untrained tiny
instance of the family its ``tiny`` options name (``first_stage: vae``)."""

from __future__ import annotations

from genlab.models.core.base import GenerativeModel
from genlab.models.core.config import ModelConfig
from genlab.models.registry import MODELS, build_model, model_config_class


def build_on_tiny_stages(config: ModelConfig, shape: tuple[int, int, int],
                         num_classes: int = 10) -> GenerativeModel:
    cls = MODELS[config.name]
    components = {}
    for spec in cls.component_specs:
        family = cls.tiny[spec.field]
        components[spec.field] = build_on_tiny_stages(
            model_config_class(family)(name=family, **MODELS[family].tiny), shape, num_classes)
    return build_model(config, shape, num_classes, components or None)
