"""How a run's networks compute: ``train.precision``, ``train.channels_last``, ``train.compile``.

bf16 runs each of the model's networks (its direct sub-modules: encoder, decoder, generator,
discriminator, an EMA) under ``torch.autocast`` and casts what they return to fp32, so that
everything the model computes from those outputs (likelihoods, KL terms, adversarial losses)
and the trainer logs is fp32, as are the weights and the optimiser states. The layers a model
declares stay fp32 (``GenerativeModel.full_precision_layers``: a decoder's output layer where
its likelihood needs finer parameters than bf16 holds, the discretised logistic mixture's
means on bins 2/255 wide). channels_last holds
inside the networks only: their weights are channels-last (a convolution then computes
channels-last whatever its input's layout) and the maps they return come back in the plain
layout, the one the data and the likelihoods' arithmetic use (an elementwise op between the
two layouts takes a slow strided kernel: a logistic-mixture likelihood on channels-last
outputs cost a bf16 CIFAR-10 VAE step 190 ms against 142). Hooks do it, on the modules
themselves, so the model's code is unchanged, validation and the epoch grids compute the same
way as training, and :meth:`Precision.detach` leaves a plain fp32 model behind.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from genlab.models.core.base import GenerativeModel
from genlab.models.core.pixels import Likelihood
from genlab.training.config import TrainConfig


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CPU: oneDNN on AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def pieces(model: nn.Module) -> list[nn.Module]:
    """The model's networks: its direct sub-modules, pixel likelihoods aside (they turn a
    network's output into a distribution and stay fp32)."""
    return [m for m in model.children() if not isinstance(m, Likelihood)]


def full_precision_layers(model: nn.Module) -> list[nn.Module]:
    """Layers that compute in fp32 in a bf16 run: those the model declares
    (``GenerativeModel.full_precision_layers``; a network that is no model declares none)."""
    return model.full_precision_layers() if isinstance(model, GenerativeModel) else []


def _returned(value: Any, fp32: bool, plain: bool) -> Any:
    """A network's outputs as the rest of the model takes them: float tensors in fp32 (where
    ``fp32``), image-shaped ones in the plain layout (where ``plain``); one copy at most."""
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            return value
        layout = torch.contiguous_format if plain and value.dim() == 4 else torch.preserve_format
        return value.to(torch.float32 if fp32 else value.dtype, memory_format=layout)
    if isinstance(value, tuple | list):
        return type(value)(_returned(v, fp32, plain) for v in value)
    if isinstance(value, dict):
        return {k: _returned(v, fp32, plain) for k, v in value.items()}
    return value


class Precision:
    """The resolved settings of one run, and the hooks that apply them to its model."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.device = device
        self.dtype: torch.dtype | None = None
        if cfg.precision == "bf16":
            if bf16_supported(device):
                self.dtype = torch.bfloat16
            else:
                warnings.warn(f"train.precision=bf16: {device} has no native bf16 support; "
                              "training in fp32 instead", stacklevel=2)
        self.channels_last = cfg.channels_last
        self.compile = cfg.compile
        self._undo: list[Callable[[], None]] = []
        self._images_4d = False

    @property
    def name(self) -> str:
        return "bf16" if self.dtype is not None else "fp32"

    def attach(self, model: nn.Module) -> None:
        """Memory format, autocast and compilation on ``model``'s networks."""
        # channels_last only where convolutions use it; an MLP keeps its plain layout.
        self._images_4d = self.channels_last and any(p.dim() == 4 for p in model.parameters())
        if self._images_4d:
            model.to(memory_format=torch.channels_last)
            self._keep_layout(model)
        for piece in pieces(model):
            if self.compile:
                self._compile(piece)
            if self.dtype is not None or self._images_4d:
                self._boundary(piece)
        if self.dtype is not None:
            for layer in full_precision_layers(model):
                self._full_precision(layer)

    def detach(self, model: nn.Module) -> None:
        """Undo :meth:`attach`: the model computes in fp32, in the plain layout, uncompiled."""
        while self._undo:
            self._undo.pop()()
        if self._images_4d:
            model.to(memory_format=torch.contiguous_format)

    def _keep_layout(self, model: nn.Module) -> None:
        """Channels-last on both sides of the reshapes between flat vectors and feature maps.
        An ``Unflatten``'s map comes out contiguous, and the gradient that a ``Flatten`` hands
        back too; elementwise ops and their backward passes that meet one contiguous and one
        channels-last tensor take a slow path (LeakyReLU's backward 3 ms instead of 0.4 on a
        128x64x7x7 batch), which cost the demo DCGAN a tenth of its step."""
        def unflattened(module: nn.Module, args: Any, out: Tensor) -> Tensor:
            return out.contiguous(memory_format=torch.channels_last) if out.dim() == 4 else out

        def flattening(module: nn.Module, args: tuple[Tensor, ...]) -> None:
            if args[0].requires_grad and args[0].dim() == 4:
                args[0].register_hook(lambda g: g.contiguous(memory_format=torch.channels_last))

        handles = []
        for module in model.modules():
            if isinstance(module, nn.Unflatten):
                handles.append(module.register_forward_hook(unflattened))
            elif isinstance(module, nn.Flatten):
                handles.append(module.register_forward_pre_hook(flattening))
        self._undo.append(lambda: [h.remove() for h in handles])

    def _boundary(self, piece: nn.Module) -> None:
        """Autocast on the way into ``piece`` (bf16); fp32 and the plain layout on the way out."""
        contexts: list[AbstractContextManager[Any]] = []
        fp32 = self.dtype is not None

        def enter(module: nn.Module, args: Any) -> None:
            contexts.append(torch.autocast(self.device.type, dtype=self.dtype) if fp32
                            else nullcontext())
            contexts[-1].__enter__()

        def leave(module: nn.Module, args: Any, output: Any) -> Any:
            contexts.pop().__exit__(None, None, None)
            return _returned(output, fp32, self._images_4d)

        handles = [piece.register_forward_pre_hook(enter),
                   piece.register_forward_hook(leave, always_call=True)]
        self._undo.append(lambda: [h.remove() for h in handles])

    def _full_precision(self, layer: nn.Module) -> None:
        """``layer`` computes in fp32 inside a bf16 network: autocast off, its inputs cast up.
        A wrapped forward rather than hooks, so that ``torch.compile`` traces it inside a
        compiled network (hooks holding context objects made it recompile at every call)."""
        previous = layer.__dict__.get("forward")
        inner = layer.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            with torch.autocast(self.device.type, enabled=False):
                return inner(*(a.float() if isinstance(a, Tensor) and a.is_floating_point()
                               else a for a in args), **kwargs)

        def undo() -> None:
            if previous is None:
                del layer.forward
            else:
                layer.forward = previous

        layer.forward = forward
        self._undo.append(undo)

    def _compile(self, piece: nn.Module) -> None:
        """``torch.compile`` the piece's forward; where compiling fails, say so once and run
        every piece eagerly from then on."""
        eager = piece.forward
        compiled = torch.compile(eager)

        def forward(*args: Any, **kwargs: Any) -> Any:
            if not self.compile:
                return eager(*args, **kwargs)
            try:
                return compiled(*args, **kwargs)
            except Exception as exc:  # any compiler failure falls back to eager
                self.compile = False
                warnings.warn(f"train.compile: torch.compile failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}); running eagerly",
                              stacklevel=2)
                return eager(*args, **kwargs)

        piece.forward = forward
        self._undo.append(lambda: delattr(piece, "forward"))
