from __future__ import annotations

from pathlib import Path

import pytest

from genlab.errors import ConfigError
from genlab.models.families.autoencoders.iwae import IWAEConfig
from genlab.training.config import apply_overrides, config_from_dict, load_config, save_config

CONFIGS = sorted(p for p in (Path(__file__).parents[2] / "configs").glob("*.yaml")
                 if not p.name.startswith("study_"))  # study configs: tests/study


def test_defaults_and_family_config():
    cfg = config_from_dict({"model": {"name": "iwae", "k": 7}})
    assert isinstance(cfg.model, IWAEConfig) and cfg.model.k == 7
    assert cfg.data.dataset == "mnist-mini" and cfg.train.epochs > 0


def test_unknown_key_names_it_and_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"beta .*not an option of ae; ae's options:.*loss"):
        config_from_dict({"model": {"name": "ae", "beta": 2.0}})
    with pytest.raises(ConfigError, match=r"unknown key train\.epoch\b.*epochs"):
        config_from_dict({"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match="unknown key optim"):
        config_from_dict({"optim": {}})


def test_wrong_types_and_values_are_named():
    with pytest.raises(ConfigError, match=r"train\.epochs expects an integer"):
        config_from_dict({"train": {"epochs": "ten"}})
    with pytest.raises(ConfigError, match=r"model\.hidden\[1\] expects an integer"):
        config_from_dict({"model": {"hidden": [3, "x"]}})
    with pytest.raises(ConfigError, match=r"data\.binarize='sometimes'"):
        config_from_dict({"data": {"binarize": "sometimes"}})
    with pytest.raises(ConfigError, match="unknown model 'gan9'"):
        config_from_dict({"model": {"name": "gan9"}})
    assert config_from_dict({"train": {"lr": 1}}).train.lr == 1.0


def test_overrides_parse_yaml_values():
    raw = apply_overrides({}, ["model.hidden=[8, 4]", "train.lr=0.5", "data.size=null"])
    cfg = config_from_dict(raw)
    assert cfg.model.hidden == [8, 4] and cfg.train.lr == 0.5 and cfg.data.size is None
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["lr"])
    with pytest.raises(ConfigError, match="unknown section"):
        apply_overrides({}, ["optim.lr=1"])


def test_yaml_roundtrip_and_errors_name_the_file(tmp_path):
    cfg = config_from_dict({"model": {"name": "cvae", "latent_dim": 3}})
    path = tmp_path / "c.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: vae, latnet_dim: 3}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: model\.latnet_dim .*not an option of vae"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    cfg = load_config(path)
    assert cfg.out and cfg.model.name


SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "stl10": (3, 64, 64),
          "folder:cifar10-jpg": (3, 32, 32)}


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_build_a_model_with_a_finite_loss(path):
    import torch

    from genlab.models.core.base import Batch
    from twostage import build_on_tiny_stages

    cfg = load_config(path)
    shape = SHAPES[cfg.data.dataset]
    if cfg.data.size:
        shape = (shape[0], cfg.data.size, cfg.data.size)
    model = build_on_tiny_stages(cfg.model, shape)  # a first stage: a tiny untrained one
    torch.manual_seed(0)
    x, y = (torch.rand(20, *shape) > 0.5).float(), torch.arange(20) % 10
    if model.closed_form:
        model.fit(x, y)
    objectives = model.evaluation(Batch(x, y))  # every player's: GANs have two, no ``loss``
    assert objectives and all(torch.isfinite(out.total) for _, out in objectives)
    assert model.sample(2).shape == (2, *shape)
