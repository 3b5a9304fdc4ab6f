"""Models built on other trained models: the components a family declares.

A two-stage family (a prior learned on a trained autoencoder's codes, latent diffusion, a
PixelCNN over a VQ-VAE's codes) is built on another run. It declares each such component once,
as a :class:`Component` on ``component_specs``: the config field that names the run (e.g.
``first_stage: RUN_DIR``) and the capabilities the run's model must have. The checkpoint loader
(``training.components``) opens the run, checks it, freezes its model and passes it to the
family's constructor; the model keeps it out of its own parameters and checkpoint (a plain
dict ``built_on``, not sub-modules), so training never updates it, and the run records where
it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genlab.errors import ConfigError
from genlab.models.core.capabilities import require

if TYPE_CHECKING:
    from genlab.models.core.base import GenerativeModel


@dataclass(frozen=True)
class Component:
    """A trained run a family is built on: ``field`` of the family's config names its run
    directory, ``needs`` the capabilities (``core.capabilities`` protocols) its model must
    offer, ``role`` the words for messages ("first stage")."""

    field: str
    needs: tuple[type, ...] = ()
    role: str = "component"


def check_components(model: GenerativeModel,
                     given: Mapping[str, GenerativeModel]) -> dict[str, GenerativeModel]:
    """The components ``model``'s family declares, each given and able to do what it needs."""
    specs = {spec.field: spec for spec in type(model).component_specs}
    extra = sorted(set(given) - set(specs))
    if extra:
        raise ConfigError(f"the {model.config.name!r} model is built on no {extra[0]!r} "
                          f"(its components: {', '.join(specs) or 'none'})")
    for name, spec in specs.items():
        if name not in given:
            raise ConfigError(f"the {model.config.name!r} model needs its {spec.role} "
                              f"(model.{name}: a trained run directory)")
        for capability in spec.needs:
            require(given[name], capability, f"model.{name} (the {spec.role})")
    return dict(given)
