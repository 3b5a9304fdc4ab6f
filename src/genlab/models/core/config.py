"""The config bases every family's config composes: a name, and a code size for latent families.

A family's config subclasses these and the parts' configs (``parts.nets.BackboneConfig``,
``parts.likelihoods.PixelLikelihoodConfig``), so an option a family lacks is an unknown key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from genlab.errors import ConfigError


@dataclass
class ModelConfig:
    """What every family has: its name. A family's config subclasses this and composes only
    the parts it uses: :class:`LatentConfig` (a code size), ``nets.BackboneConfig`` (an
    MLP/conv/residual backbone) and ``likelihoods.PixelLikelihoodConfig`` (a decoder's pixel
    distribution), so an option a family lacks is an unknown key, never silently ignored.
    """

    name: str = "vae"

    aliases: ClassVar[dict[str, str]] = {}
    """Other accepted names of a field (``n_components`` for PCA's ``latent_dim``)."""
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    """The accepted values of text fields, declared by the class that owns the field; a
    subclass narrows them (PixelCNN's ``likelihood``). ``genlab train FAMILY --help`` lists
    them and :meth:`validate` checks them (:meth:`field_choices` merges the bases')."""

    @classmethod
    def field_choices(cls) -> dict[str, tuple[str, ...]]:
        """Each text field's accepted values, the most derived declaration winning."""
        merged: dict[str, tuple[str, ...]] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("choices", {}))
        return merged

    def validate(self) -> None:
        """Reject values of this family's own fields before any work starts (subclasses call
        this first, so declared choices are checked)."""
        for name, valid in self.field_choices().items():
            value = getattr(self, name)
            if value not in valid:
                raise ConfigError(f"model.{name}={value!r} is not valid for {self.name}; "
                                  f"choose one of {', '.join(valid)}")

    def validate_data(self, binarize: str, size: tuple[int, int] | None) -> None:
        """Refuse options ``data.binarize`` or the image (height, width), if known, rule out."""

    @classmethod
    def upgrade(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A stored config of an older genlab as this version reads it (see
        ``training.config.upgrade_stored``); families whose fields changed meaning override."""
        return values


@dataclass
class LatentConfig(ModelConfig):
    """A family with a latent code of ``latent_dim`` dimensions."""

    latent_dim: int = 16

    def validate(self) -> None:
        super().validate()
        if self.latent_dim <= 0:
            raise ConfigError(f"model.latent_dim must be positive, got {self.latent_dim}")
