"""One trainer for every family: closed-form fits and gradient training alike.

The loop owns the data, the devices, the optimisers and the run directory; the model owns its
training step. Each batch, the trainer calls ``model.train_step(batch, update, step)``, where
``update(player, loss)`` is one optimiser step of that player (gradients all-reduced under
torchrun, clipped, NaN-checked, logged); then every scheduler steps once. Everything else
(the weight average, prior refits, epoch grids, early stopping, the time limit, TensorBoard, a
family's or a user's extras) is a callback on the loop's events (``training.callbacks``). An
atomic checkpoint after every epoch restores weights, optimisers, schedulers, RNGs and the
callbacks' states, so on CPU a killed-and-resumed run ends as an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from genlab.data import BatchIterator, load_dataset
from genlab.data.prepare import batch_input, eval_seed, fixed_draw
from genlab.devices import frozen_heap, resolve_device
from genlab.io import write_json
from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.models.core.callbacks import Callback
from genlab.training import distributed
from genlab.training.callbacks import run_callbacks
from genlab.training.checkpoint import atomic_save, check_run_dir, read_checkpoint, read_meta
from genlab.training.components import build_with_components
from genlab.training.config import RunConfig, config_from_dict, load_config, save_config
from genlab.training.estimate import Probe, Split, epochs_within, estimate_line, probe_model
from genlab.training.lock import train_lock
from genlab.training.logs import (
    EpochLog,
    MetricsFiles,
    check_finite,
    check_finite_weights,
    epoch_line,
    prefixed,
    run_summary,
)
from genlab.training.optim import Optimizers, Schedulers, build_optimizers, build_schedulers
from genlab.training.precision import Precision
from genlab.training.state import (
    TrainState,
    check_data_config,
    check_model_config,
    pack_training,
    restore_training,
)
from genlab.training.validation import evaluate_split, selection_value


@dataclass
class RunResult:
    """What a finished (or resumed-and-finished) run returns to the Python API;
    ``stopped_early``: a callback ended it before ``train.epochs`` (``summary["stopped_by"]``);
    ``trained``: the epochs this session trained (0: a resume with nothing left to do)."""

    run_dir: Path
    model: GenerativeModel
    history: list[dict[str, Any]]
    best_epoch: int
    stopped_early: bool
    summary: dict[str, Any] = field(default_factory=dict)
    trained: int = 0


class Trainer:
    """Owns one run directory: config.yaml, metrics.jsonl/csv, curves.png, checkpoints/.
    ``callbacks``: a user's, heard after the trainer's own and the family's."""

    def __init__(self, config: RunConfig, run_dir: Path, resume: bool = False,
                 callbacks: Sequence[Callback] = ()):
        self.config = config
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.title = f"{config.model.name} on {config.data.dataset}"
        self.device = resolve_device(config.train.device)
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        self.dist = distributed.setup(self.device)
        check_run_dir(self.ckpt_dir, resume, self.dist.is_main)
        if resume:  # before the data loads: a resume on other images is refused
            last = self.ckpt_dir / "last.safetensors"
            check_data_config(read_meta(last), last, config.data)
        torch.manual_seed(config.train.seed)
        self._load_data()
        self.model = build_with_components(config, self.shape, self.num_classes,
                                           self.run_dir).to(self.device)
        self.scored: GenerativeModel = self.model  # what validation, grids and best see
        self.copies = [self.model]
        self.state = TrainState()
        self.first_epoch = 0  # where this session started
        self.estimate: Probe | None = None  # of an epoch's seconds, printed with progress
        self.keep: list[str] = []  # names the next checkpoint is also kept as (callbacks')
        self.callbacks = run_callbacks(self.model, config.train, callbacks)
        self.callbacks.setup(self)  # the weight average makes its copy the scored one
        self.precision = Precision(config.train, self.device)
        for model in self.copies:
            self.precision.attach(model)
        # Same initial weights on every rank; different reparameterisation noise per rank.
        torch.manual_seed(config.train.seed + 1000 * self.dist.rank)
        self.shuffle_gen = torch.Generator().manual_seed(config.train.seed)
        self.binarize_gen = torch.Generator().manual_seed(config.train.seed + 1)
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
            self.callbacks.on_train_end(self)
            if self.dist.is_main:
                self.metrics.draw(self.state.history)
        summary = self._summary(time.perf_counter() - start)
        if self.dist.is_main:
            write_json(self.run_dir / "summary.json", summary)
        self.scored.eval()
        s = self.state
        return RunResult(self.run_dir, self.scored, s.history, s.best_epoch, bool(s.stopped_by),
                         summary, trained=s.epoch - self.first_epoch)

    def _fit_closed_form(self) -> None:
        batch = self.prepare(self.train_images, self.train_labels, train=False)
        with torch.no_grad():
            fitted = self.model.fit(batch.x, batch.y)
        row: dict[str, Any] = {"epoch": 1, "step": 0, **{f"fit/{k}": v for k, v in fitted.items()}}
        row.update(prefixed("train", self.evaluate(self.train_images, self.train_labels)))
        row.update(prefixed("val", self.evaluate(self.val_images, self.val_labels)))
        self.state = TrainState(epoch=1, best_epoch=1, history=[row])
        self.state.best_val = selection_value(self.model, row)
        # Fitting may resolve options (PCA's number of components): save the resolved config.
        self._start_fresh()
        self.callbacks.on_train_start(self, resumed=False)
        self.callbacks.on_epoch_end(self, row, improved=True)
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
        self.first_epoch = self.state.epoch
        if cfg.progress and self.dist.is_main and self.state.epoch < cfg.epochs:
            self.estimate = self.estimate_epoch()
            epochs = epochs_within(self.config, self.estimate.epoch_s)
            tqdm.write(estimate_line(self.estimate, max(1, epochs - self.state.epoch),
                                     limited=epochs < cfg.epochs))
        self.callbacks.on_train_start(self, resumed=resume)
        while self.state.epoch < cfg.epochs:
            if stopping := self.callbacks.stopping(self):  # named in summary.json
                self.state.stopped_by = stopping
                break
            row = self._train_epoch(batches, opts, scheds)
            row.update(prefixed("val", self.evaluate(self.val_images, self.val_labels)))
            improved = self._record(row)
            self.callbacks.on_epoch_end(self, row, improved)  # before the checkpoint
            self._save(best=improved, opts=opts, scheds=scheds)
            if cfg.progress and self.dist.is_main:
                tqdm.write(epoch_line(row))

    def estimate_epoch(self) -> Probe:
        """The epoch time ``genlab study --plan`` estimates (``training.estimate``), of a fresh
        build of the model: the trained one and every random stream are left as they were."""
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            model = build_with_components(self.config, self.shape, self.num_classes,
                                          self.run_dir).to(self.device)
            return probe_model(model, self.config, Split(self.train_images, self.train_labels),
                               Split(self.val_images, self.val_labels), self.device)

    def _start_fresh(self) -> None:
        """config.yaml, and metric files holding no rows (whatever the directory held)."""
        if self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
            self.metrics.rewrite([])

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
                log.add(name, out, batch.x.shape[0])
                self.callbacks.on_step_end(self, name, out)

            self.model.train_step(batch, update, self.state.step)
            for sched in scheds.values():
                sched.step()
            if self.state.step % 20 == 0:
                bar.set_postfix(loss=f"{log.means()['loss']:.4g}")
        distributed.broadcast_buffers(self.model, self.dist)
        self.callbacks.before_validation(self)  # a prior refit: in the epoch's seconds
        lr = next(iter(scheds.values())).get_last_lr()[0]  # the first player's
        row = {"epoch": epoch, "step": self.state.step, "seconds": time.perf_counter() - t0,
               "lr": lr}
        return {**row, **prefixed("train", log.means())}

    def _record(self, row: dict[str, Any]) -> bool:
        """Append the epoch's row and update the best epoch. Returns whether it is best."""
        s = self.state
        s.epoch = row["epoch"]
        s.history.append(row)
        value = distributed.broadcast_float(selection_value(self.model, row), self.dist)
        improved = self.model.selection_metric is None or value < s.best_val
        if improved:
            s.best_val, s.best_epoch = value, s.epoch
        return improved

    def evaluate(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        """The scored copy's objectives over a split (``training.validation``)."""
        cfg = self.config.train
        return evaluate_split(self.scored, images, labels, partial(self.prepare, train=False),
                              cfg.eval_batch_size, cfg.seed, self.device)

    # --- persistence --------------------------------------------------------------------
    def _rngs(self) -> dict[str, Tensor]:
        return {"torch": torch.get_rng_state(), "shuffle": self.shuffle_gen.get_state(),
                "binarize": self.binarize_gen.get_state()}

    def _save(self, best: bool, opts: Optimizers, scheds: Schedulers) -> None:
        check_finite_weights(self.copies, self.state.epoch, self.ckpt_dir / "last.safetensors")
        keep, self.keep = self.keep, []
        if not self.dist.is_main:
            return
        tensors, meta = pack_training(self.model, self._second_copy(), self.config.to_dict(),
                                      self.state, opts, scheds, self._rngs(), self.callbacks)
        names = ["last", "best", *keep] if best else ["last", *keep]
        atomic_save([self.ckpt_dir / f"{n}.safetensors" for n in names], tensors, meta)
        self.metrics.append(self.state.history)

    def _restore(self, opts: Optimizers, scheds: Schedulers) -> None:
        source = self.ckpt_dir / "last.safetensors"
        ckpt = read_checkpoint(source)
        check_model_config(ckpt, source, self.config.model)
        self.state, rngs = restore_training(ckpt, source, self.model, self._second_copy(), opts,
                                            scheds, self.callbacks)
        torch.set_rng_state(rngs["torch"])
        self.shuffle_gen.set_state(rngs["shuffle"])
        self.binarize_gen.set_state(rngs["binarize"])
        if self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
            self.metrics.rewrite(self.state.history)

    def _second_copy(self) -> GenerativeModel | None:
        """The scored copy when a callback keeps one apart from the trained weights."""
        return None if self.scored is self.model else self.scored

    def _summary(self, seconds: float) -> dict[str, Any]:
        summary = run_summary(self.model, self.config, self.state, self.eval_split, seconds,
                              self.dist)
        return {**summary, "precision": self.precision.name}


def train(
    config: RunConfig | dict[str, Any] | str | Path,
    out: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train (or resume) a run. ``config`` is a RunConfig, a nested dict, or a YAML path;
    ``callbacks`` (``training.callbacks.Callback``) hear the run's events after the trainer's
    own, and one may end it (resume it with the same callbacks)."""
    if isinstance(config, str | Path):
        config = load_config(config)
    elif isinstance(config, dict):
        config = config_from_dict(config)
    run_dir = Path(out or config.out or Path("runs") / config.model.name)
    config.out = str(run_dir)
    with train_lock(run_dir):  # one process per run directory
        return Trainer(config, run_dir, resume=resume, callbacks=callbacks).run(resume=resume)
