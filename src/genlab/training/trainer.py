"""One trainer for every family: closed-form fits and gradient training alike.

The loop owns the data, the devices, the optimisers and the run directory; the model owns its
training step. Each batch, the trainer calls ``model.train_step(batch, update, step)``, where
``update(player, loss)`` is one optimiser step of that player (gradients all-reduced under
torchrun, clipped, NaN-checked, logged, and the player's weights averaged when ``train.ema`` is
on); then every scheduler steps once. An atomic checkpoint after every epoch restores weights,
optimisers, schedulers and RNGs, so on CPU a killed-and-resumed run ends as an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from genlab.data import BatchIterator, load_dataset
from genlab.data.prepare import batch_input, eval_seed, fixed_draw
from genlab.devices import frozen_heap, resolve_device, seeded
from genlab.errors import CheckpointError, ConfigError
from genlab.io import write_json
from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.training import distributed
from genlab.training.average import WeightAverage
from genlab.training.board import Board
from genlab.training.checkpoint import (
    TrainState,
    atomic_save,
    check_run_dir,
    pack_training,
    read_checkpoint,
    restore_training,
)
from genlab.training.components import build_with_components
from genlab.training.config import RunConfig, config_from_dict, load_config, save_config
from genlab.training.lock import train_lock
from genlab.training.logs import (
    EpochLog,
    MetricsFiles,
    another_epoch_fits,
    check_finite,
    epoch_line,
    prefixed,
    run_summary,
    write_epoch_samples,
)
from genlab.training.optim import Optimizers, Schedulers, build_optimizers, build_schedulers
from genlab.training.precision import Precision

PRIOR_FIT_IMAGES = 10_000
EVAL_SEED_OFFSET = 7919


@dataclass
class RunResult:
    """What a finished (or resumed-and-finished) run returns to the Python API."""

    run_dir: Path
    model: GenerativeModel
    history: list[dict[str, Any]]
    best_epoch: int
    stopped_early: bool
    summary: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Owns one run directory: config.yaml, metrics.jsonl/csv, curves.png, checkpoints/."""

    def __init__(self, config: RunConfig, run_dir: Path, resume: bool = False):
        self.config = config
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.title = f"{config.model.name} on {config.data.dataset}"
        self.device = resolve_device(config.train.device)
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        self.dist = distributed.setup(self.device)
        check_run_dir(self.ckpt_dir, resume, self.dist.is_main)
        self.board = Board(config.train.tensorboard, self.run_dir, self.dist.is_main)
        torch.manual_seed(config.train.seed)
        self._load_data()
        self.model = build_with_components(config, self.shape, self.num_classes,
                                           self.run_dir).to(self.device)
        self.average = WeightAverage(self.model, config.train.ema) if config.train.ema else None
        self.averaged = self.average.model if self.average else None
        self.scored = self.averaged or self.model  # what validation, grids and best see
        self.copies = [self.model, *([self.averaged] if self.averaged else [])]
        self.precision = Precision(config.train, self.device)
        for model in self.copies:
            self.precision.attach(model)
        # Same initial weights on every rank; different reparameterisation noise per rank.
        torch.manual_seed(config.train.seed + 1000 * self.dist.rank)
        self.shuffle_gen = torch.Generator().manual_seed(config.train.seed)
        self.binarize_gen = torch.Generator().manual_seed(config.train.seed + 1)
        self.state = TrainState()
        self.metrics = MetricsFiles(self.run_dir, self.title, draws=self.dist.is_main)

    # --- setup --------------------------------------------------------------------------
    def _load_data(self) -> None:
        cfg = self.config.data
        ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, val_size=cfg.val_size, size=cfg.size,
                          split_seed=cfg.split_seed, download=cfg.download, classes=cfg.classes)
        self.shape, self.num_classes = ds.shape, ds.num_classes
        self.eval_split = "val" if "val" in ds.splits else "test"
        train, val = ds.split(cfg.train_split), ds.split(self.eval_split)
        # A fixed draw keeps validation numbers comparable between epochs.
        self.train_images = fixed_draw(train.images, cfg.binarize, cfg.split_seed, training=True)
        self.val_images = fixed_draw(val.images, cfg.binarize, eval_seed(cfg.split_seed))
        self.train_labels, self.val_labels = train.labels, val.labels

    def prepare(self, images: Tensor, labels: Tensor, train: bool) -> Batch:
        """uint8 slice -> float batch on the device, binarised as the data config says."""
        x = batch_input(images, self.config.data.binarize, self.binarize_gen if train else None)
        return Batch(x.to(self.device, non_blocking=True), labels.to(self.device))

    # --- the run ------------------------------------------------------------------------
    def run(self, resume: bool = False) -> RunResult:
        try:
            with frozen_heap():  # set-up's objects are out of the collector's scans
                return self._run(resume)
        finally:
            distributed.teardown(self.dist)

    def _run(self, resume: bool) -> RunResult:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            if self.model.closed_form:
                self._fit_closed_form()
            else:
                self._fit_gradient(resume)
        finally:  # also after a divergence or an interrupt: the curves up to there
            for model in self.copies:
                self.precision.detach(model)
            self.board.close()
            if self.dist.is_main:
                self.metrics.draw(self.state.history)
        summary = self._summary(time.perf_counter() - start)
        if self.dist.is_main:
            write_json(self.run_dir / "summary.json", summary)
        self.scored.eval()
        s = self.state
        return RunResult(self.run_dir, self.scored, s.history, s.best_epoch, s.stopped_early,
                         summary)

    def _fit_closed_form(self) -> None:
        batch = self.prepare(self.train_images, self.train_labels, train=False)
        with torch.no_grad():
            fitted = self.model.fit(batch.x, batch.y)
        row: dict[str, Any] = {"epoch": 1, "step": 0, **{f"fit/{k}": v for k, v in fitted.items()}}
        row.update(prefixed("train", self.evaluate(self.train_images, self.train_labels)))
        row.update(prefixed("val", self.evaluate(self.val_images, self.val_labels)))
        self.state = TrainState(epoch=1, best_epoch=1, history=[row])
        self.state.best_val = self._selection_value(row)
        # Fitting may resolve options (PCA's number of components): save the resolved config.
        self._start_fresh()
        self.board.epoch(row, None)
        self._save(best=True, opts={}, scheds={})

    def _fit_gradient(self, resume: bool) -> None:
        cfg = self.config.train
        batches = BatchIterator(
            self.train_images, self.train_labels, batch_size=cfg.batch_size, shuffle=True,
            generator=self.shuffle_gen, rank=self.dist.rank, world_size=self.dist.world_size,
        )
        opts = build_optimizers(self.model, cfg)
        scheds = build_schedulers(opts, cfg, len(batches))
        if resume:
            self._restore(opts, scheds)
        else:
            self._start_fresh()
        while self.state.epoch < cfg.epochs and not self.state.stopped_early:
            if cfg.time_limit > 0 and not another_epoch_fits(self.state.history,
                                                               60 * cfg.time_limit):
                break
            row = self._train_epoch(batches, opts, scheds)
            row.update(prefixed("val", self.evaluate(self.val_images, self.val_labels)))
            improved = self._record(row)
            grid = write_epoch_samples(self.scored, self.run_dir, row["epoch"], cfg.epoch_samples,
                                       cfg.seed) if self.dist.is_main else None
            self.board.epoch(row, grid)  # before the checkpoint: a resume purges it if lost
            self._save(best=improved, opts=opts, scheds=scheds)
            if cfg.progress and self.dist.is_main:
                tqdm.write(epoch_line(row))

    def _start_fresh(self) -> None:
        """config.yaml, and metric files holding no rows (whatever the directory held)."""
        if self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
            self.metrics.rewrite([])
            self.board.start((self.run_dir / "config.yaml").read_text(), 0, resumed=False)

    def _train_epoch(
        self, batches: BatchIterator, opts: Optimizers, scheds: Schedulers
    ) -> dict[str, Any]:
        """One pass over the training data; returns the epoch's row of train/ numbers."""
        cfg, epoch = self.config.train, self.state.epoch + 1
        groups = self.model.param_groups()
        log = EpochLog(len(opts))
        self.model.train()
        t0 = time.perf_counter()
        # disable=None: tqdm hides itself when stderr is not a terminal (CI logs, files)
        bar = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", leave=False, unit="batch",
                   disable=None if cfg.progress and self.dist.is_main else True)
        for images, labels in bar:
            batch = self.prepare(images, labels, train=True)
            self.state.step += 1

            def update(name: str, out: LossOutput, batch: Batch = batch) -> None:
                check_finite(out, name, epoch, self.state.step, self.ckpt_dir / "last.safetensors",
                             self.state.epoch)
                opts[name].zero_grad(set_to_none=True)
                out.total.backward()
                distributed.average_gradients(groups[name], self.dist)
                if cfg.clip_grad > 0:
                    torch.nn.utils.clip_grad_norm_(groups[name], cfg.clip_grad)
                opts[name].step()
                if self.average:
                    self.average.update(groups[name])
                self.board.step(log.key(name), out.total, self.state.step)
                log.add(name, out, batch.x.shape[0])

            self.model.train_step(batch, update, self.state.step)
            for sched in scheds.values():
                sched.step()
            if self.state.step % 20 == 0:
                bar.set_postfix(loss=f"{log.means()['loss']:.4g}")
        distributed.broadcast_buffers(self.model, self.dist)
        if type(self.model).fit_prior is not GenerativeModel.fit_prior:  # a learnt prior
            for model in self.copies:
                model.fit_prior(*self._prior_subset())
        lr = next(iter(scheds.values())).get_last_lr()[0]  # the first player's
        row = {"epoch": epoch, "step": self.state.step, "seconds": time.perf_counter() - t0,
               "lr": lr}
        return {**row, **prefixed("train", log.means())}

    def _record(self, row: dict[str, Any]) -> bool:
        """Append the epoch's row; update best and early stopping. Returns whether it is best."""
        s, patience = self.state, self.config.train.patience
        s.epoch = row["epoch"]
        s.history.append(row)
        value = distributed.broadcast_float(self._selection_value(row), self.dist)
        improved = self.model.selection_metric is None or value < s.best_val
        if improved:
            s.best_val, s.best_epoch, s.bad_epochs = value, s.epoch, 0
        else:
            s.bad_epochs += 1
            s.stopped_early = 0 < patience <= s.bad_epochs
        return improved

    def _selection_value(self, row: dict[str, Any]) -> float:
        metric = self.model.selection_metric
        if metric is None:
            return float(row["epoch"])
        if metric not in row:
            raise ConfigError(f"the {self.config.model.name!r} model selects checkpoints by "
                              f"{metric!r}, which its evaluation does not log (logged: "
                              f"{', '.join(row)})")
        return float(row[metric])

    def _prior_subset(self) -> tuple[Tensor, Tensor]:
        n = min(PRIOR_FIT_IMAGES, len(self.train_labels))
        batch = self.prepare(self.train_images[:n], self.train_labels[:n], train=False)
        return batch.x, batch.y

    def evaluate(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        """Mean of every player's objective and terms over a split, in eval mode.

        Runs under a forked RNG with a fixed seed: every epoch sees the same posterior noise
        (so validation curves and early stopping compare like with like), and the training
        random stream is left exactly where it was. Autograd is on only for families that
        differentiate in their objectives (a gradient penalty)."""
        model = self.scored
        was_training = model.training
        model.eval()
        log = EpochLog(len(model.players()))
        grad = torch.enable_grad() if model.eval_with_grad else torch.no_grad()
        with seeded(self.config.train.seed + EVAL_SEED_OFFSET, self.device), grad:
            size = self.config.train.eval_batch_size
            for start in range(0, len(labels), size):
                batch = self.prepare(images[start:start + size], labels[start:start + size],
                                     train=False)
                for name, out in model.evaluation(batch):
                    log.add(name, out, batch.x.shape[0])
        model.train(was_training)
        return log.means()

    # --- persistence --------------------------------------------------------------------
    def _rngs(self) -> dict[str, Tensor]:
        return {"torch": torch.get_rng_state(), "shuffle": self.shuffle_gen.get_state(),
                "binarize": self.binarize_gen.get_state()}

    def _save(self, best: bool, opts: Optimizers, scheds: Schedulers) -> None:
        if not self.dist.is_main:
            return
        tensors, meta = pack_training(self.model, self.averaged, self.config.to_dict(),
                                      self.state, opts, scheds, self._rngs())
        names = ["last", "best"] if best else ["last"]
        atomic_save([self.ckpt_dir / f"{n}.safetensors" for n in names], tensors, meta)
        self.metrics.append(self.state.history)

    def _restore(self, opts: Optimizers, scheds: Schedulers) -> None:
        source = self.ckpt_dir / "last.safetensors"
        ckpt = read_checkpoint(source)
        saved = config_from_dict(ckpt.meta["config"], stored=True).to_dict()["model"]
        if saved != self.config.to_dict()["model"]:
            diff = sorted(k for k in saved if saved[k] != getattr(self.config.model, k, None))
            raise CheckpointError(f"{source} was trained with another model config (differs "
                                  f"in model.{diff[0]})")
        self.state, rngs = restore_training(ckpt, source, self.model, self.averaged, opts,
                                            scheds)
        torch.set_rng_state(rngs["torch"])
        self.shuffle_gen.set_state(rngs["shuffle"])
        self.binarize_gen.set_state(rngs["binarize"])
        if self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
            self.metrics.rewrite(self.state.history)
            self.board.start((self.run_dir / "config.yaml").read_text(), self.state.step,
                             resumed=True)

    def _summary(self, seconds: float) -> dict[str, Any]:
        summary = run_summary(self.model, self.config, self.state, self.eval_split, seconds,
                              self.dist)
        return {**summary, "precision": self.precision.name}


def train(
    config: RunConfig | dict[str, Any] | str | Path,
    out: str | Path | None = None,
    resume: bool = False,
) -> RunResult:
    """Train (or resume) a run. ``config`` is a RunConfig, a nested dict, or a YAML path."""
    if isinstance(config, str | Path):
        config = load_config(config)
    elif isinstance(config, dict):
        config = config_from_dict(config)
    run_dir = Path(out or config.out or Path("runs") / config.model.name)
    config.out = str(run_dir)
    with train_lock(run_dir):  # one process per run directory
        return Trainer(config, run_dir, resume=resume).run(resume=resume)
