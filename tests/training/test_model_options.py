"""Each family owns its config: options it lacks are errors everywhere (YAML, --set, flags),
stored configs of genlab 0.1 still open, and PCA is sized one way."""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass

import pytest
import yaml

from genlab.cli import train_flags
from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.models.families.adversarial.dcgan import DCGAN, DCGANConfig
from genlab.models.registry import MODELS
from genlab.training.config import (
    apply_overrides,
    config_from_dict,
    load_config,
    upgrade_stored,
)


def test_an_option_the_family_lacks_is_an_error_naming_it_and_the_family_options():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"model": {"name": "dcgan", "likelihood": "beta"}})
    text = str(err.value)
    assert "model.likelihood (--likelihood) is not an option of dcgan" in text
    assert "norm" in text and "channels" in text and "bins" not in text.split("options:")[1]


def test_yaml_and_set_are_checked_the_same_way(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: gan, net: resnet}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: model.net \(--net\) is not an option of gan"):
        load_config(path)
    raw = apply_overrides({"model": {"name": "mean"}}, ["model.latent_dim=4"])
    with pytest.raises(ConfigError, match="not an option of mean; mean's options: none"):
        config_from_dict(raw)


def test_cli_flag_the_family_lacks_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "dcgan", "--dataset", "mnist-mini", "--likelihood", "beta",
                 "--net", "resnet", "--hidden", "7", "--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "is not an option of dcgan" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_family_help_lists_only_its_own_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "dcgan", "--help"])
    text = capsys.readouterr().out
    flags = set(re.findall(r"^  (--[a-z-]+)", text, flags=re.M))
    assert "dcgan options" in text and {"--norm", "--channels", "--epochs"} <= flags
    assert not {"--likelihood", "--hidden", "--beta", "--net"} & flags
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--likelihood" in set(re.findall(r"^  (--[a-z-]+)", capsys.readouterr().out, re.M))


def test_pca_latent_dim_or_n_components_is_the_number_of_components():
    assert config_from_dict({"model": {"name": "pca", "latent_dim": 5}}).model.latent_dim == 5
    assert config_from_dict({"model": {"name": "pca", "n_components": 5}}).model.latent_dim == 5
    with pytest.raises(ConfigError, match="another name for model.latent_dim"):
        config_from_dict({"model": {"name": "pca", "n_components": 5, "latent_dim": 6}})
    with pytest.raises(ConfigError, match="sized one way"):
        config_from_dict({"model": {"name": "pca", "latent_dim": 5, "explained_variance": 0.9}})


def test_cli_pca_latent_dim_5_fits_5_components(tmp_path):
    out = tmp_path / "pca"
    assert main(["train", "pca", "--dataset", "mnist-mini", "--latent-dim", "5",
                 "--out", str(out)]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["latent_dim"] == 5
    from genlab.runs import open_run

    assert open_run(out).model.components.shape[0] == 5


LEGACY_DCGAN = {"name": "dcgan", "latent_dim": 64, "net": "mlp", "hidden": [512, 256],
                "channels": [32, 64], "res_blocks": 2, "batchnorm": True,
                "likelihood": "bernoulli", "sigma": 0.1, "sigma_mode": "fixed", "bins": 16,
                "loss": "non-saturating", "ema": 0.0, "norm": "batch"}


def test_a_stored_0_1_config_drops_what_no_longer_applies_with_one_warning():
    with pytest.warns(UserWarning, match="no longer apply.*net, hidden, res_blocks"):
        model = upgrade_stored(LEGACY_DCGAN)
    assert model == {k: LEGACY_DCGAN[k] for k in
                     ("name", "latent_dim", "channels", "loss", "ema", "norm")}
    with warnings.catch_warnings(record=True):
        config = config_from_dict({"model": {**LEGACY_DCGAN, "ema": 0.5}}, stored=True)
    assert config.model.channels == [32, 64]
    assert config.train.ema == 0.5  # 0.1's model.ema is the trainer's average now
    with pytest.raises(ConfigError):  # a config a user wrote is never upgraded
        config_from_dict({"model": LEGACY_DCGAN})


def test_model_ema_written_by_a_user_names_its_new_place():
    with pytest.raises(ConfigError, match=r"model\.ema is now train\.ema"):
        config_from_dict({"model": {"name": "dcgan", "ema": 0.9}})
    with pytest.raises(ConfigError, match=r"train\.ema must be in \[0, 1\)"):
        config_from_dict({"model": {"name": "dcgan"}, "train": {"ema": 1.0}})
    with pytest.raises(ConfigError, match="closed form"):
        config_from_dict({"model": {"name": "pca"}, "train": {"ema": 0.9}})


def test_a_stored_0_1_pca_config_keeps_its_fitted_count():
    legacy = {"name": "pca", "latent_dim": 87, "n_components": None, "explained_variance": 0.95,
              "net": "mlp", "likelihood": "bernoulli"}
    with warnings.catch_warnings(record=True):
        config = config_from_dict({"model": legacy}, stored=True)
    assert config.model.latent_dim == 87 and config.model.explained_variance is None


def test_a_model_field_named_like_a_train_field_fails_the_flag_table(monkeypatch):
    @dataclass
    class Clash(DCGANConfig):
        seed: int = 3  # would be --seed, already train.seed

    class ClashGAN(DCGAN):
        config_class = Clash

    monkeypatch.setitem(MODELS, "clash", ClashGAN)
    with pytest.raises(ConfigError, match=r"--seed would name both train.seed and model.seed"):
        train_flags.derive()


def test_every_family_config_has_only_fields_with_defaults():
    """So that ``genlab train FAMILY`` with no options builds each one."""
    for name, model in MODELS.items():
        for f in dataclasses.fields(model.config_class):
            has_default = f.default is not dataclasses.MISSING
            assert has_default or f.default_factory is not dataclasses.MISSING, (name, f.name)


@pytest.mark.slow
def test_a_0_1_run_directory_opens_resumes_and_evaluates(tmp_path):
    """A run whose config.yaml and checkpoints carry 0.1's shared model fields."""
    import genlab
    from genlab.runs import open_run
    from genlab.training.checkpoint import atomic_save, read_checkpoint

    out = tmp_path / "dcgan"
    train = {"epochs": 1, "batch_size": 100, "progress": False, "device": "cpu",
             "epoch_samples": 0}
    genlab.train({"model": {"name": "dcgan", "latent_dim": 64, "channels": [32, 64]},
                  "data": {"dataset": "mnist-mini", "val_size": 8500}, "train": train}, out=out)
    raw = yaml.safe_load((out / "config.yaml").read_text())
    raw["model"] = dict(LEGACY_DCGAN)
    (out / "config.yaml").write_text(yaml.safe_dump(raw))
    for name in ("last", "best"):
        path = out / "checkpoints" / f"{name}.safetensors"
        ckpt = read_checkpoint(path)
        ckpt.meta["config"]["model"] = dict(LEGACY_DCGAN)
        path.unlink()
        atomic_save(path, ckpt.tensors, ckpt.meta)
    with pytest.warns(UserWarning, match="no longer apply"):
        run = open_run(out)
    assert run.sample(2, seed=0).shape == (2, 1, 28, 28)
    with pytest.warns(UserWarning, match="no longer apply"):
        assert main(["train", "--resume", str(out), "--epochs", "2"]) == 0
    assert open_run(out, which="last").meta["epoch"] == 2
    assert "likelihood" not in yaml.safe_load((out / "config.yaml").read_text())["model"]


def test_a_model_field_of_another_kind_under_a_shared_name_fails_the_flag_table(monkeypatch):
    @dataclass
    class Clash(DCGANConfig):
        hidden: int = 3  # would be --hidden, a list of widths for the backbone families

    class ClashGAN(DCGAN):
        config_class = Clash

    monkeypatch.setitem(MODELS, "clash", ClashGAN)
    with pytest.raises(ConfigError, match=r"--hidden would take both an int list and an int"):
        train_flags.derive()
