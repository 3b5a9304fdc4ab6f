"""Study YAML -> StudyConfig: every key checked, model configs merged and hashed."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.errors import ConfigError
from genlab.study.config import config_hash, load_study, resolve_model, study_from_dict

BASE = {"models": [{"label": "vae", "config": {"model": {"name": "vae"}}}]}


def test_shared_settings_sit_under_each_model_and_overrides_on_top(tmp_path: Path) -> None:
    study = study_from_dict({
        "data": {"dataset": "mnist-mini", "binarize": "dynamic"},
        "train": {"epochs": 3, "batch_size": 64},
        "models": [{"label": "ae", "config": {"model": {"name": "ae"}, "train": {"epochs": 5}},
                    "set": ["train.lr=0.01", "model.latent_dim=4"]}],
    })
    config = resolve_model(study, study.models[0], tmp_path)
    assert config.model.name == "ae" and config.model.latent_dim == 4
    assert config.train.epochs == 5 and config.train.batch_size == 64 and config.train.lr == 0.01
    assert config.data.binarize == "dynamic"


def test_options_added_later_keep_the_hash_of_runs_that_leave_them_unset(
        tmp_path: Path) -> None:
    study = study_from_dict(BASE)
    config = resolve_model(study, study.models[0], tmp_path)
    assert config_hash(config) == "087216bbe2"  # as before data.classes existed
    config.data.classes = ["4", "9"]
    assert config_hash(config) != "087216bbe2"
    for section, key, value in (("model", "dropout", 0.1), ("train", "momentum", 0.5)):
        config = resolve_model(study, study.models[0], tmp_path)
        setattr(getattr(config, section), key, value)
        assert config_hash(config) != "087216bbe2", key


def test_a_model_config_may_be_a_file_beside_the_study(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("model: {name: pca, n_components: 3}\nout: runs/x\n")
    (tmp_path / "s.yaml").write_text("models: [{label: pca, config: m.yaml}]\n")
    study, root = load_study(tmp_path / "s.yaml")
    config = resolve_model(study, study.models[0], root)
    assert config.model.latent_dim == 3 and config.out is None


def test_the_hash_follows_what_is_learnt_not_where_it_runs(tmp_path: Path) -> None:
    study = study_from_dict(BASE)
    a = resolve_model(study, study.models[0], tmp_path)
    b = resolve_model(study, study.models[0], tmp_path)
    b.train.device, b.train.progress, b.data.data_dir = "cuda", False, "/elsewhere"
    assert config_hash(a) == config_hash(b)
    b.train.epochs += 1
    assert config_hash(a) != config_hash(b)


@pytest.mark.parametrize(("raw", "message"), [
    ({**BASE, "evaluaton": {}}, "unknown key evaluaton"),
    ({**BASE, "evaluation": {"n": "many"}}, "evaluation.n expects an integer"),
    ({**BASE, "evaluation": {"metrics": ["fid", "beauty"]}}, "unknown metric 'beauty'"),
    ({**BASE, "figures": {"colour": 1}}, "unknown key figures.colour"),
    ({**BASE, "perturbations": {"sigmas": "big"}}, "perturbations.sigmas expects a list"),
    ({"models": []}, "models must be a non-empty list"),
    ({"models": [{"label": "Bad Label"}]}, "label must be lower-case"),
    ({"models": [{"label": "a"}, {"label": "a"}]}, "used twice"),
    ({"models": [{"label": "a", "conf": {}}]}, "unknown key conf"),
    ({"models": [{"label": "a", "set": "train.epochs=1"}]}, "set must be a list"),
])
def test_bad_studies_are_refused_naming_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        study_from_dict(raw)


def test_a_missing_model_file_or_bad_key_names_the_model(tmp_path: Path) -> None:
    study = study_from_dict({"models": [{"label": "x", "config": "nowhere.yaml"},
                                        {"label": "y", "config": {"model": {"latnt": 1}}}]})
    with pytest.raises(ConfigError, match=r"models\[x\].*nowhere.yaml"):
        resolve_model(study, study.models[0], tmp_path)
    with pytest.raises(ConfigError, match="model 'y'.*latnt"):
        resolve_model(study, study.models[1], tmp_path)
    (tmp_path / "list.yaml").write_text("- model\n")
    (tmp_path / "broken.yaml").write_text("model: {\n")
    listed = study_from_dict({"models": [{"label": "z", "config": "list.yaml"},
                                         {"label": "w", "config": "broken.yaml"}]})
    with pytest.raises(ConfigError, match="model 'z': a run config must be a mapping"):
        resolve_model(listed, listed.models[0], tmp_path)
    with pytest.raises(ConfigError, match=r"models\[w\]: config file .*broken.yaml is not valid"):
        resolve_model(listed, listed.models[1], tmp_path)


def test_a_missing_or_broken_study_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_study(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("models: [\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        load_study(tmp_path / "bad.yaml")


def test_every_shipped_study_config_loads_and_resolves() -> None:
    root = Path(__file__).resolve().parents[2] / "configs"
    shipped = sorted(root.glob("study_*.yaml"))
    assert shipped
    for path in shipped:
        study, folder = load_study(path)
        for model in study.models:
            resolve_model(study, model, folder)


@pytest.mark.parametrize("seeds, message", [
    ("0,1", "seeds must be a list of non-negative integers"),
    ([0, -1], "seeds must be a list of non-negative integers"),
    ([0, True], "seeds must be a list of non-negative integers"),
    ([1, 2, 1], "seeds: the seed 1 is listed twice"),
])
def test_bad_seeds_are_named(seeds: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        study_from_dict({**BASE, "seeds": seeds})


def test_a_model_may_have_its_own_settings_over_the_study_s(tmp_path: Path) -> None:
    from genlab.study.config import settings_of
    from genlab.study.runner import plan

    study = study_from_dict({
        "evaluation": {"n": 500, "nll_images": 40, "metrics": ["fid", "nll"]},
        "figures": {"samples": 25},
        "models": [BASE["models"][0],
                   {"label": "slow", "config": {"model": {"name": "vae"}},
                    "settings": {"evaluation": {"n": 100, "metrics": ["fid"]}}}]})
    shared, own = (settings_of(study, m) for m in study.models)
    assert (shared.evaluation.n, shared.evaluation.metrics) == (500, ["fid", "nll"])
    assert (own.evaluation.n, own.evaluation.metrics) == (100, ["fid"])
    assert own.evaluation.nll_images == 40 and own.figures.samples == 25  # the study's
    assert [job.settings.evaluation.n for job in plan(study, tmp_path, tmp_path)] == [500, 100]


@pytest.mark.parametrize(("settings", "message"), [
    ({"evaluations": {}}, r"models\[0\].settings must map some of evaluation, perturbations"),
    ({"evaluation": {"m": 3}}, r"unknown key models\[0\].settings.evaluation.m; valid keys"),
    ({"evaluation": {"metrics": ["fidd"]}}, "unknown metric 'fidd'"),
    ({"figures": 3}, r"settings.figures must be a mapping"),
])
def test_bad_model_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        study_from_dict({"models": [{**BASE["models"][0], "settings": settings}]})
