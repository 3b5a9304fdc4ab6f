"""A tiny trained 2-D VAE and a diffusion prior learned on its codes (``diffusion-prior``):
the runs the tests of prior-guided latent moves (``latent.refine``) share. About 10 s on two
CPU cores: one epoch of the VAE on mnist-mini's 2,000 training images, five of the prior."""

from __future__ import annotations

from pathlib import Path

import genlab

DATA = {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 8000}
TRAIN = {"epochs": 1, "batch_size": 100, "progress": False, "seed": 0, "device": "cpu",
         "epoch_samples": 0}
PRIOR = {"name": "diffusion-prior", "timesteps": 50, "width": 64, "blocks": 1,
         "bound_timesteps": 6}


def train_vae_and_prior(root: Path) -> dict[str, Path]:
    """``vae``: the first stage; ``prior``: the diffusion prior over its codes."""
    vae = genlab.train({"model": {"name": "vae", "net": "mlp", "hidden": [64], "latent_dim": 2},
                        "data": DATA, "train": TRAIN}, out=root / "vae").run_dir
    prior = genlab.train({"model": {**PRIOR, "first_stage": str(vae)}, "data": DATA,
                          "train": {**TRAIN, "epochs": 5}}, out=root / "prior").run_dir
    return {"vae": vae, "prior": prior}
