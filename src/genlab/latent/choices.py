"""The choices the latent commands offer, apart from the tools that use them: this module
imports nothing heavy, so ``genlab latent perturb --help`` lists them without loading torch."""

SCALES: tuple[str, ...] = ("absolute", "relative")
"""Perturbation noise in the code's own units, or in units of each code dimension's sd."""
SPREAD_IMAGES = 1000
"""Training codes (or prior draws) whose per-dimension sd is relative noise's unit: the sd of
each dimension within a few per cent (its standard error is sd / sqrt(2 N))."""
FIT_OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
"""The per-image posterior fit's optimisers (``latent.fit``)."""
FIT_INITS: tuple[str, ...] = ("mean", "normal")
"""mean: q at the prior mean, INIT_LOGVAR; normal: whitened mean, log-variance ~ N(0, 1) (004)."""
