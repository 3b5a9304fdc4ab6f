"""A Gaussian-mixture prior fitted to a trained autoencoder's codes: ex-post density
estimation (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders", 4).

An autoencoder's codes do not fill the prior its samples are drawn from (a VAE's aggregate
posterior is not N(0, I); an AE has no prior at all), so decoded prior draws miss the codes of
real images. The second stage fits p(z) = sum_k pi_k N(z; mu_k, Sigma_k) to one draw of
q(z | x) per training image by EM (scikit-learn), the first stage frozen; samples decode draws
from it. The codes, the encoder and the decoder are the first stage's (``two_stage.base``), so
every latent tool moves through the first stage's space. Its likelihood is the first stage's
decoder under the fitted prior, log p(x) = log E_q [p(x | z) p(z) / q(z | x)],
importance-sampled (Burda et al. 2016) with the base's proposal: the first stage's q(z | x), or
a narrow Gaussian around a deterministic encoder's code; on the first stage's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import (
    Categorical,
    Distribution,
    MixtureSameFamily,
    MultivariateNormal,
)

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.models.core.config import ModelConfig
from genlab.models.families.two_stage.base import CodePrior
from genlab.models.parts.density import IW_SAMPLES, iw_log_likelihood

COVARIANCES = ("full", "diag")
CODE_CHUNK = 1000


@dataclass
class GMMPriorConfig(ModelConfig):
    """``first_stage``: the trained encoder family's run; ``mixtures`` K Gaussians with
    ``covariance`` full or diag, fitted by EM (initialised from ``train.seed``)."""

    first_stage: str = ""
    mixtures: int = 10
    covariance: str = "full"

    def validate(self) -> None:
        if self.mixtures < 1:
            raise ConfigError(f"model.mixtures must be positive, got {self.mixtures}")
        if self.covariance not in COVARIANCES:
            raise ConfigError(f"model.covariance={self.covariance!r}; choose one of "
                              f"{', '.join(COVARIANCES)}")


class GMMPrior(CodePrior):
    """A trained autoencoder's decoder with a Gaussian mixture fitted to its codes."""

    config_class = GMMPriorConfig
    closed_form = True
    tiny: ClassVar[dict[str, Any]] = {"first_stage": "vae", "mixtures": 3}
    """For the registry's contract tests, ``first_stage`` names the family whose tiny run
    it is built on."""

    def __init__(self, config: GMMPriorConfig, shape: tuple[int, int, int], num_classes: int,
                 components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        if self.stage.conditional:
            raise ConfigError(f"gmm-prior: the first stage {self.stage.config.name!r} is "
                              "conditional; a mixture prior here is fitted to unlabelled codes")
        k, d = config.mixtures, self.stage.latent_dim
        self.register_buffer("logits", torch.zeros(k))
        self.register_buffer("means", torch.zeros(k, d))
        self.register_buffer("scale_tril", torch.eye(d).expand(k, d, d).clone())

    # --- the second stage: p(z) fitted to the codes ------------------------------------------
    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """EM (float64) on one draw z ~ q(z | x) per training image: a sample of the aggregate
        posterior, the prior that best fits the first stage (Hoffman & Johnson 2016). Not on
        the posterior means: a VAE's inactive dimensions have means near 0 and q near N(0, 1),
        and a mixture fitted to the means would give every draw of q a vanishing density."""
        from sklearn.mixture import GaussianMixture  # here: scikit-learn costs --help 0.5 s

        codes = torch.cat([self.code_draws(c) for c in x.split(CODE_CHUNK)]).double()
        gmm = GaussianMixture(self.config.mixtures, covariance_type=self.config.covariance,
                              random_state=int(torch.randint(2**31 - 1, ())), reg_covar=1e-6)
        gmm.fit(codes.cpu().numpy())
        cov = torch.as_tensor(gmm.covariances_)
        if self.config.covariance == "diag":
            cov = torch.diag_embed(cov)
        self.logits.copy_(torch.as_tensor(gmm.weights_).log())
        self.means.copy_(torch.as_tensor(gmm.means_))
        self.scale_tril.copy_(torch.linalg.cholesky(cov))
        self.code_sd.copy_(codes.std(0))
        return {"em_iterations": float(gmm.n_iter_), "converged": float(gmm.converged_)}

    def loss(self, batch: Batch) -> LossOutput:
        """-log p(z) of the images' codes (a draw each), nats per image: how well the mixture
        fits them (validation reads it; the fit itself is EM)."""
        nll = -self.prior().log_prob(self.code_draws(batch.x)).mean()
        return LossOutput(nll, {"code_nll": nll})

    def code_draws(self, x: Tensor) -> Tensor:
        """One code per image: a draw of q(z | x), or a deterministic encoder's code."""
        q = self.stage.encode(x)
        return q if isinstance(q, Tensor) else q.sample()

    def prior(self) -> Distribution:
        return MixtureSameFamily(Categorical(logits=self.logits),
                                 MultivariateNormal(self.means, scale_tril=self.scale_tril))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """A mixture component per draw, then its Gaussian; the noise drawn on the CPU."""
        k = torch.multinomial(self.logits.softmax(0).cpu(), n, replacement=True,
                              generator=generator).to(self.device)
        eps = torch.randn(n, self.latent_dim, generator=generator, device="cpu").to(self.device)
        return self.means[k] + (self.scale_tril[k] @ eps.unsqueeze(-1)).squeeze(-1)

    # --- the first stage's encoder and decoder -----------------------------------------------
    # --- likelihood ---------------------------------------------------------------------------
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = IW_SAMPLES) -> Tensor:
        return iw_log_likelihood(self, x, y, k=k, proposal=self.proposal)

    def likelihood_method(self, k: int) -> str:
        q = self.proposal_words()
        return f"importance sampling, k = {k}, proposal {q} (Burda et al. 2016)"
