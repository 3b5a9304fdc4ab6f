"""Checkpoints: one safetensors file per checkpoint, written atomically.

A checkpoint is read onto the CPU (an explicit map location), so a run trained on a GPU opens
on a machine without one; callers move the model where they want it.

Tensors: the model's state (``model.*``: with ``train.ema`` on, the weight average, which is
what a run is opened for), the trained weights that training continues from when they differ
(``live.*``), each optimiser's tensor state (``optim.NAME.*``), the RNG states (``rng.*``)
and callbacks' tensors (``callback.KEY.*``). The JSON part (config, image shape, epoch, step,
optimiser hyper-parameters, scheduler state, history, callbacks' other state) lives in the
safetensors header's metadata under ``genlab``, so weights and state can never disagree: the
file is replaced in one rename. ``training.state`` packs and restores what a resumed run needs.

Integrity: the metadata holds the SHA-256 of every tensor (``tensors_sha256``, names, dtypes,
shapes and bytes: ``components.weights_digest``), checked on every read, so a file damaged
after it was written (bytes overwritten, a bad copy) is refused naming it rather than sampled
as a black grid; a file written before the digest opens unchecked. Model weights that are not
finite are refused on read, and the trainer never writes them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.errors import CheckpointError, ConfigError, CorruptCheckpointError
from genlab.io import atomic_path, write_error
from genlab.models.core.base import GenerativeModel
from genlab.models.registry import build_model, model_class
from genlab.training.components import component_records, reopen_components, weights_digest
from genlab.version import __version__

FORMAT = "genlab-checkpoint/1"
DIGEST = "tensors_sha256"
"""The metadata key of the digest of every tensor of the file."""
WEIGHTS = ("model.", "live.")
"""The tensors that are weights: each must be finite."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds, split into tensors and JSON-able metadata."""

    meta: dict[str, Any]
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def section(self, prefix: str) -> dict[str, Tensor]:
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}


def atomic_save(
    paths: Path | Sequence[Path], tensors: dict[str, Tensor], meta: dict[str, Any]
) -> None:
    """Write the first path (a temp file beside it, renamed over it); each further path
    becomes a hard link to that file, renamed over it likewise: no second write, and a later
    save renames a new file over the first path, leaving the linked file alone."""
    flat = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {**meta, DIGEST: weights_digest(flat)}
    first, *others = [paths] if isinstance(paths, Path) else list(paths)
    # save_file writes straight from the tensors: several times faster than bytes from save()
    with atomic_path(first) as tmp:
        try:
            save_file(flat, str(tmp), metadata={"genlab": json.dumps(meta)})
        except SafetensorError as exc:  # its I/O errors are no OSErrors: name the file
            raise write_error(first, _os_error(exc)) from exc
    for path in others:
        try:
            with atomic_path(path) as tmp:
                os.link(first, tmp)
        except OSError:  # no hard links on this file system (some network or FAT ones)
            with atomic_path(path) as tmp:
                shutil.copyfile(first, tmp)


def _os_error(exc: SafetensorError) -> OSError:
    """The OSError behind a safetensors error (``... (os error 28) ...``), else its text."""
    found = re.search(r"os error (\d+)", str(exc))
    return OSError(int(found[1]), os.strerror(int(found[1]))) if found else OSError(None, str(exc))


def read_meta(path: str | Path) -> dict[str, Any]:
    """A checkpoint's metadata alone (its header: no tensor is read); anything but a genlab
    checkpoint is a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta_raw = (fh.metadata() or {}).get("genlab")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a genlab checkpoint (not safetensors: {exc})"
        ) from None
    if meta_raw is None:
        raise CheckpointError(f"{path} is a safetensors file but not a genlab checkpoint")
    try:
        meta = json.loads(meta_raw)
    except ValueError:
        raise CorruptCheckpointError(f"{path} is corrupt: its metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r}")
    return meta


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint file, its tensors checked against their digest and its weights for
    finite values; anything else is a CheckpointError naming the file."""
    path = Path(path)
    meta = read_meta(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptCheckpointError(f"{path} is corrupt: its tensors cannot be read ({exc})"
                                     ) from None
    if DIGEST in meta and weights_digest(tensors) != meta[DIGEST]:
        raise CorruptCheckpointError(f"{path} is corrupt: its tensors differ from the SHA-256 "
                                     "written with them (damaged since it was saved)")
    bad = non_finite(tensors)
    if bad:
        raise CorruptCheckpointError(f"{path} holds non-finite weights: {bad} has NaN or inf "
                                     "values")
    return Checkpoint(meta, upgrade_generator_average(tensors))


def non_finite(tensors: dict[str, Tensor], prefixes: tuple[str, ...] = WEIGHTS) -> str:
    """The first (by name) floating-point tensor under ``prefixes`` holding a NaN or an
    infinity; "" when all are finite."""
    return next((k for k in sorted(tensors) if k.startswith(prefixes)
                 and tensors[k].is_floating_point() and not bool(tensors[k].isfinite().all())),
                "")


def open_checkpoint(run: str | Path, which: str = "best") -> tuple[Path, Checkpoint]:
    """A run's checkpoint ``which`` (:func:`resolve_checkpoint`), read; where it is damaged and
    the run's other checkpoint (best or last) is a different, intact file, the error says to
    use that one."""
    path = resolve_checkpoint(run, which)
    try:
        return path, read_checkpoint(path)
    except CorruptCheckpointError as exc:
        other = _intact_sibling(path)
        if other is None:
            raise
        raise CorruptCheckpointError(f"{exc}; {other.name} of this run is intact: open it "
                                     f"with --which {other.stem}") from None


def _intact_sibling(path: Path) -> Path | None:
    """``checkpoints/last`` for ``checkpoints/best`` and the other way round, where it is
    another file (best is a hard link to last after an improving epoch) and reads cleanly."""
    names = {"best": "last", "last": "best"}
    if path.parent.name != "checkpoints" or path.stem not in names:
        return None
    other = path.with_name(f"{names[path.stem]}.safetensors")
    if not other.is_file() or os.path.samefile(path, other):
        return None
    try:
        read_checkpoint(other)
    except CheckpointError:
        return None
    return other


LEGACY_AVERAGE = "model.ema.shadow."
"""genlab 0.1 kept a GAN's generator average inside the model (``model.ema`` in the config)."""


def upgrade_generator_average(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """A 0.1 GAN checkpoint's tensors in today's layout: its averaged generator becomes the
    model's generator (``model.*``) and the trained weights become ``live.*``."""
    if not any(k.startswith(LEGACY_AVERAGE) for k in tensors):
        return tensors
    trained = {k: v for k, v in tensors.items()
               if k.startswith("model.") and not k.startswith("model.ema.")}
    out = {k: v for k, v in tensors.items() if not k.startswith("model.")}
    out.update({"live." + k.removeprefix("model."): v for k, v in trained.items()})
    out.update(trained)
    out.update({"model.generator." + k.removeprefix(LEGACY_AVERAGE): v
                for k, v in tensors.items() if k.startswith(LEGACY_AVERAGE)})
    return out


def optimizer_state(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split an optimiser state dict into flat tensors and JSON-able rest."""
    state = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{name}.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(ckpt: Checkpoint, name: str, opt: torch.optim.Optimizer) -> None:
    """Load player ``name``'s optimiser state. Per-parameter tensors (Adam's moments) take
    their parameter's strides: the file holds them contiguous, and torch's fused CPU Adam
    silently updates the wrong elements when a parameter (a channels-last convolution, a
    transposed view) and its moments are laid out differently."""
    if name not in ckpt.meta["optimizers"]:
        raise CheckpointError(f"the checkpoint holds no optimiser for player {name!r}")
    info = ckpt.meta["optimizers"][name]
    params = [p for group in opt.param_groups for p in group["params"]]
    state: dict[int, dict[str, Any]] = {}
    for key, value in ckpt.section(f"optim.{name}").items():
        idx, _, field_name = key.partition(".")
        param = params[int(idx)] if int(idx) < len(params) else None
        if field_name != "step" and param is not None and value.shape == param.shape:
            value = torch.empty_like(param, dtype=value.dtype).copy_(value)
        state.setdefault(int(idx), {})[field_name] = value
    for idx, values in info["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def model_meta(model: GenerativeModel, config_dict: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "genlab_version": __version__,
        "model": model.config.name,
        "shape": list(model.shape),
        "num_classes": model.num_classes,
        "config": config_dict,
        **({"components": component_records(model)} if model.built_on else {}),
    }


def check_run_dir(ckpt_dir: Path, resume: bool, is_main: bool) -> None:
    """A fresh run needs a directory without a run; a resumed one its last checkpoint (the
    temporary files of a run killed mid-write are removed)."""
    last = ckpt_dir / "last.safetensors"
    if resume and not last.exists():
        raise CheckpointError(f"cannot resume: {last} does not exist")
    if resume and is_main:
        for stale in ckpt_dir.glob(".*.tmp"):
            stale.unlink()
    if not resume and last.exists():
        raise ConfigError(f"{ckpt_dir.parent} already holds a run; "
                          "resume it with --resume or choose another --out")


def resolve_checkpoint(run: str | Path, which: str = "best") -> Path:
    """A run directory maps to RUN/checkpoints/{best,last}.safetensors; a file is itself."""
    run = Path(run)
    if run.is_file():
        return run
    if not run.exists():
        raise CheckpointError(f"{run}: no such run directory or checkpoint file")
    path = run / "checkpoints" / f"{which}.safetensors"
    if not path.exists() and which == "best":
        path = run / "checkpoints" / "last.safetensors"
    if not path.exists():
        raise CheckpointError(f"{run} holds no checkpoint (looked for {path})")
    return path


def model_from_checkpoint(ckpt: Checkpoint, source: Path, device: str = "cpu") -> GenerativeModel:
    """Rebuild the model from the checkpoint's own config and load its weights strictly."""
    from genlab.training.config import config_from_dict

    try:
        config = config_from_dict(ckpt.meta["config"], stored=True)
    except ConfigError as exc:
        raise CheckpointError(f"{source}: its config is not valid here: {exc}") from None
    components = (reopen_components(config.model.name, ckpt.meta.get("components", {}), source)
                  if model_class(config.model.name).component_specs else None)
    model = build_model(config.model, tuple(ckpt.meta["shape"]), ckpt.meta["num_classes"],
                        components)
    load_weights(model, ckpt.section("model"), source)
    return model.to(device).eval()


def load_weights(model: GenerativeModel, state: dict[str, Tensor], source: Path) -> None:
    """Load a state dict, turning a shape or key mismatch into a CheckpointError."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or wrong:
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {extra[:3]}"
            if extra
            else f"{wrong[0]} has shape {tuple(state[wrong[0]].shape)}, "
            f"the model expects {tuple(own[wrong[0]].shape)}"
        )
        raise CheckpointError(
            f"{source} does not fit model {model.config.name!r} with this config: {detail}"
        )
    model.load_state_dict(state)


def load_model(run: str | Path, which: str = "best", device: str = "cpu") -> GenerativeModel:
    """Load the model of a run directory or checkpoint file, ready for sampling."""
    path, ckpt = open_checkpoint(run, which)
    return model_from_checkpoint(ckpt, path, device)
