"""Every shipped config and study runs from any folder with ``GENLAB_DATA`` set: each is
resolved from a temporary working directory and its dataset found and sized (headers and file
counts, nothing decoded or trained) in the real data; then one real run, trained from a
temporary folder on a small image copy of CIFAR-10 in a temporary data directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from genlab.cli.main import main
from genlab.data import dataset_path, probe_dataset
from genlab.data.cifar import CLASS_NAMES
from genlab.data.dataset import MINI, SOURCES
from genlab.data.folder import probe_folder
from genlab.study.config import check_data, load_study, resolve_model
from genlab.training.config import DataConfig, ModelConfig, load_config
from twostage import build_on_tiny_stages

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
CANDIDATES = [*(p for p in os.environ.get("GENLAB_DATA", "").split(os.pathsep) if p),
              str(REPO / ".." / "shared" / "data")]
SHARED = next((Path(p).resolve() for p in CANDIDATES if (Path(p) / "mnist").is_dir()), None)
needs_shared = pytest.mark.skipif(
    SHARED is None, reason=f"no real data (a folder holding mnist/) in {', '.join(CANDIDATES)}")


def _configs(path: Path) -> list[tuple[str, ModelConfig, DataConfig]]:
    """(label, model, data) of a run config or of every model of a study, resolved as
    ``genlab train`` and ``genlab study`` resolve them (a study's data also checked)."""
    if not path.name.startswith("study_"):
        config = load_config(path)
        return [(path.stem, config.model, config.data)]
    study, root = load_study(path)
    check_data(study, root)
    return [(m.label, (c := resolve_model(study, m, root)).model, c.data) for m in study.models]


def _absent(dataset: str) -> bool:
    """A named dataset that the real data lacks altogether (no folder of any of its layouts):
    STL-10 and Fashion-MNIST are not kept offline."""
    return dataset in SOURCES and dataset != MINI and not any(
        (SHARED / layout.folder).is_dir() for layout in SOURCES[dataset].layouts)


@needs_shared
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_shipped_config_finds_its_data_from_any_folder(
        path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENLAB_DATA", str(SHARED))
    absent = sorted({data.dataset for _, _, data in _configs(path) if _absent(data.dataset)})
    if absent:
        pytest.skip(f"{', '.join(absent)} not in the real data ({SHARED})")
    for label, model, data in _configs(path):
        probe = probe_dataset(data.dataset, data.data_dir)
        assert data.dataset == MINI or Path(probe["path"]).is_relative_to(SHARED), label
        assert data.train_split in probe["splits"], label
        c, h, w = probe["shape"]
        shape = (c, data.size, data.size) if data.size else (c, h, w)
        if data.classes:
            names = probe_folder(Path(str(dataset_path(data.dataset, data.data_dir))))[2]
            assert set(data.classes) <= set(names), label
        build_on_tiny_stages(model, shape)  # the network fits the images found


def _small_cifar(root: Path) -> Path:
    """``root/cifar10-jpg/{train,test}/<class>/`` with two 32 x 32 JPEGs per class."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in CLASS_NAMES:
            folder = root / "cifar10-jpg" / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.jpg")
    return root


def test_a_shipped_cifar10_config_trains_from_a_temporary_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    data, cwd = _small_cifar(tmp_path / "data"), tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("GENLAB_DATA", str(data))
    config = REPO / "configs" / "dcgan_cifar10.yaml"
    small = ["model.channels=[8,16,32]", "model.latent_dim=8", "train.epochs=1",
             "train.batch_size=10", "train.precision=fp32", "train.channels_last=false",
             "train.ema=0", "train.epoch_samples=0", "train.progress=false",
             "train.device=cpu", "data.val_size=4"]
    argv = ["train", "--config", str(config), "--out", "run"]
    assert main([*argv, *(a for s in small for a in ("--set", s))]) == 0
    assert "run run: 1 epoch(s)" in capsys.readouterr().out
    stored = yaml.safe_load((cwd / "run" / "config.yaml").read_text())
    assert stored["data"]["dataset"] == "folder:cifar10-jpg"  # as the config says it
    assert (cwd / "run" / "summary.json").is_file() and not (data / "run").exists()
