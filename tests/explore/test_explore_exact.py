"""The explorer on the exact-likelihood families: a flow is explored like any encoder family
(its exact encoder gives the codes, which decode back to the image), and a PixelCNN, which has
no latent space, is refused when the explorer opens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from genlab.errors import ConfigError
from genlab.explore.app import create_app
from genlab.explore.session import Explorer
from genlab.models.registry import MODELS, build_model
from genlab.runs import Run
from genlab.training.config import config_from_dict


def untrained(folder: Path, family: str, binarize: str) -> Run:
    """A seeded, untrained ``tiny`` model of ``family`` as a Run (no training, no file)."""
    config = config_from_dict({"model": {"name": family, **MODELS[family].tiny},
                               "data": {"dataset": "mnist-mini", "binarize": binarize}})
    torch.manual_seed(0)
    model = build_model(config.model, (1, 28, 28), 10).eval()
    return Run(model, config, folder / "untrained.safetensors", {})


def test_a_flow_encodes_decodes_and_moves_its_codes(tmp_path: Path) -> None:
    run = untrained(tmp_path, "realnvp", "none")
    state = Explorer([("flow", run)])
    try:
        with TestClient(create_app(state), raise_server_exceptions=False) as client:
            info = client.get("/api/runs/0").json()
            assert info["latent_dim"] == 784 and len(info["axes"]["labels"]) == 12
            got = client.post("/api/runs/0/encode", json={"split": "test", "index": 3}).json()
            assert got["numbers"]["codes_from"] == "encoder" and len(got["z"]) == 784
            x = run.select("test", index=[3]).x
            with torch.no_grad():
                back = run.model.decode(torch.tensor([got["z"]])).mean
            torch.testing.assert_close(back, x, rtol=0, atol=1e-4)  # float32 round trip
            moved = client.post("/api/runs/0/perturb", json={"image": {"index": 3},
                                                              "values": [0.5]})
            assert moved.status_code == 200, moved.text
    finally:
        state.close()


def test_a_pixelcnn_has_no_latent_space_to_explore(tmp_path: Path) -> None:
    run = untrained(tmp_path, "pixelcnn", "dynamic")
    with pytest.raises(ConfigError, match="no latent space to explore"):
        Explorer([("pixelcnn", run)])
