"""Inception-v3 features (``fid-inception``), the feature space FID was defined in (Heusel et
al. 2017), through torch-fidelity's port of the TensorFlow network (Obukhov et al. 2020).

An optional extra (``pip install genlab[inception]``): the weights come from a local file
(``--inception-weights PATH``, torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``)
or from torch-fidelity's download when online. Grey images are repeated to three channels and
every image is passed as uint8, which the network resizes to 299 x 299 itself. It quacks like a
:class:`~genlab.evaluation.classifier.Classifier` (features, probabilities, a name, a hash), so
every sample metric and the reference cache work in it unchanged; its class probabilities are
ImageNet's 1,008 logits, so the Inception Score is the usual one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.evaluation.unavailable import MetricUnavailable

NAME = "inception"
"""What ``--classifier`` takes to choose this feature space."""
FEATURES, LOGITS = "2048", "logits_unbiased"
BATCH = 100
INSTALL = "pip install 'genlab[inception]' (torch-fidelity)"


def _extractor_class() -> Any:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as exc:
        raise MetricUnavailable(f"fid-inception needs torch-fidelity: {INSTALL} ({exc})") from None
    return FeatureExtractorInceptionV3


def _digest(weights: Path | None) -> str:
    if weights is None:
        return "torch-fidelity-default-weights"
    return hashlib.sha256(weights.read_bytes()).hexdigest()


@dataclass
class InceptionFeatures:
    """The network, its device and where its weights came from."""

    net: Any
    device: torch.device
    sha256: str
    weights: str
    info: dict[str, Any] = field(default_factory=dict)
    name: str = NAME
    feature_space: str = "fid-inception"
    class_names: list[str] = field(default_factory=list)

    @torch.no_grad()
    def features_and_probs(self, images: Tensor, batch: int = BATCH) -> tuple[Tensor, Tensor]:
        """Pool features (N, 2048) and softmax of the 1,008 logits, on the CPU."""
        feats, probs = [], []
        for part in images.split(batch):
            f, logits = self.net(_as_uint8_rgb(part).to(self.device))
            feats.append(f.float().cpu())
            probs.append(logits.float().softmax(1).cpu())
        return torch.cat(feats), torch.cat(probs)

    def features(self, images: Tensor) -> Tensor:
        return self.features_and_probs(images)[0]

    def probs(self, images: Tensor) -> Tensor:
        return self.features_and_probs(images)[1]


def _as_uint8_rgb(images: Tensor) -> Tensor:
    """[0, 1] floats or uint8, grey or colour -> uint8 with three channels."""
    x = images if images.dtype == torch.uint8 else (images.clamp(0, 1) * 255).round().byte()
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def load_inception(weights: str | Path | None = None,
                   device: str | torch.device = "cpu") -> InceptionFeatures:
    """Inception-v3 from ``weights`` (a local file) or torch-fidelity's download. Either way,
    a failure says which source failed and what to do instead."""
    extractor = _extractor_class()
    path = Path(weights) if weights else None
    if path is not None and not path.is_file():
        raise MetricUnavailable(f"--inception-weights {path} does not exist")
    try:
        net = extractor("inception-v3-compat", [FEATURES, LOGITS],
                        feature_extractor_weights_path=str(path) if path else None)
    except Exception as exc:  # a failed download or a file of other weights
        source = f"the weights file {path}" if path else "torch-fidelity's download (offline?)"
        hint = "" if path else "; pass --inception-weights PATH to a local copy"
        raise MetricUnavailable(f"cannot load Inception-v3 from {source}: {exc}{hint}") from None
    net = net.to(device).eval()
    return InceptionFeatures(net, torch.device(device), _digest(path),
                             str(path) if path else "torch-fidelity download")
