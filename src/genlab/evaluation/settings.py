"""What an evaluation measures, as one record: ``genlab evaluate``'s flags, a study YAML's
``evaluation`` section and :func:`~genlab.evaluation.evaluate.evaluate_run`'s settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genlab.errors import ConfigError
from genlab.evaluation.registry import DEFAULT_METRICS
from genlab.models.core.sampling import option_names, resolve_options
from genlab.models.registry import MODELS

NLL_IMAGES = 1000
"""Images the likelihood is estimated on by default: k = 1000 draws each is the costly part."""


@dataclass
class EvaluationSettings:
    """``metrics`` (names in ``evaluation.registry``); ``n`` samples (and at most n real images
    for recon and precision/recall) of ``split``; ``classifier``: a weights file or
    ``inception`` (``inception_weights``: its local weights), else the one genlab ships;
    ``nll_images`` images with ``iw_samples`` samples each for the likelihood (None: each
    family's own ``likelihood_samples``: 1,000 importance samples, a DDPM 50 timesteps);
    ``sampling``: sampling options (``models.core.sampling``, e.g. ``{steps: 50}``) for every sample
    drawn, each model taking those its family has (a key no family has is an error)."""

    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    n: int = 10_000
    split: str = "test"
    classifier: str | None = None
    inception_weights: str | None = None
    iw_samples: int | None = None
    nll_images: int = NLL_IMAGES
    seed: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = sorted({n for m in MODELS.values() for n in option_names(m.sample_options)})
        unknown = [k for k in self.sampling if k not in known]
        if unknown:
            raise ConfigError(f"evaluation.sampling.{unknown[0]} is not a sampling option of "
                              f"any model; sampling options: {', '.join(known) or 'none'}")
        for family, model in MODELS.items():  # values too, before any model is trained
            resolve_options(model.sample_options, self.sampling, family, strict=False)
