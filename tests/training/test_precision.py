"""train.precision, train.channels_last, train.compile: bf16 networks with fp32 losses, the
channels_last layout, exact resume with both on, and the fallbacks where the device or the
compiler cannot."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from genlab import train
from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.config import ModelConfig
from genlab.models.parts.likelihoods import build_likelihood
from genlab.models.parts.logistic import DiscretisedLogisticLikelihood
from genlab.models.registry import MODELS as MODELS_REGISTRY
from genlab.models.registry import build_model
from genlab.training import precision as precision_module
from genlab.training.checkpoint import read_checkpoint
from genlab.training.config import TrainConfig, config_from_dict
from genlab.training.logs import EpochLog
from genlab.training.precision import Precision, bf16_supported

BF16 = bf16_supported(torch.device("cpu"))
needs_bf16 = pytest.mark.skipif(not BF16, reason="this CPU has no native bf16 (oneDNN)")
FAST = {"precision": "bf16", "channels_last": True}
MODELS = {
    "vae": {"name": "vae", "net": "conv", "channels": [4, 8], "latent_dim": 4},
    "dcgan": {"name": "dcgan", "latent_dim": 8, "channels": [8, 16]},
    "vae-logistic": {"name": "vae", "net": "conv", "channels": [4, 8], "latent_dim": 4,
                     "likelihood": "logistic", "mixtures": 2},  # its output layer in fp32
}


def test_a_bad_precision_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"train\.precision='fp16' is not valid.*fp32, bf16"):
        config_from_dict({"train": {"precision": "fp16"}})


def test_without_native_bf16_it_says_so_and_trains_in_fp32(monkeypatch):
    monkeypatch.setattr(precision_module, "bf16_supported", lambda device: False)
    with pytest.warns(UserWarning, match="no native bf16 support; training in fp32"):
        chosen = Precision(TrainConfig(precision="bf16"), torch.device("cpu"))
    assert chosen.name == "fp32" and chosen.dtype is None


@needs_bf16
def test_networks_compute_in_bf16_and_return_fp32_and_detach_restores_them():
    model = nn.Module()
    model.net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 2))
    seen = []
    model.net[0].register_forward_hook(lambda m, a, out: seen.append(out))
    chosen = Precision(TrainConfig(**FAST), torch.device("cpu"))
    chosen.attach(model)
    assert model.net(torch.rand(2, 1, 28, 28)).dtype == torch.float32
    # a plain-layout input: the convolution computes channels-last, from its weight's layout
    assert seen[-1].dtype == torch.bfloat16
    assert seen[-1].is_contiguous(memory_format=torch.channels_last)
    chosen.detach(model)
    assert model.net(torch.rand(2, 1, 28, 28)).dtype == torch.float32
    assert seen[-1].dtype == torch.float32 and seen[-1].is_contiguous()
    assert model.net[0].weight.is_contiguous()


@pytest.mark.parametrize("fast", [{"channels_last": True}, FAST], ids=["fp32", "bf16"])
def test_image_outputs_come_back_fp32_in_the_plain_layout(fast):
    """What a network returns meets the data and the likelihoods' arithmetic in their layout
    (mixed layouts take slow strided kernels), its gradient flowing back through the copy."""
    if fast.get("precision") == "bf16" and not BF16:
        pytest.skip("this CPU has no native bf16 (oneDNN)")
    model = nn.Module()
    model.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 1))
    chosen = Precision(TrainConfig(**fast), torch.device("cpu"))
    chosen.attach(model)
    x = torch.rand(2, 3, 8, 8)
    out = model.net(x)
    assert out.dtype == torch.float32 and out.is_contiguous()
    assert not out.is_contiguous(memory_format=torch.channels_last)
    (out * torch.rand_like(out)).sum().backward()
    assert model.net[0].weight.grad is not None
    assert model.net[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_an_mlp_keeps_its_layout():
    model = nn.Module()
    model.net = nn.Sequential(nn.Linear(2, 3 * 8 * 8), nn.Unflatten(1, (3, 8, 8)))
    chosen = Precision(TrainConfig(channels_last=True), torch.device("cpu"))
    chosen.attach(model)
    assert not model.net._forward_hooks and not model.net[1]._forward_hooks
    assert model.net(torch.rand(5, 2)).is_contiguous()


def test_channels_last_holds_across_flatten_and_unflatten_and_detach_drops_it():
    """The map an Unflatten makes and the gradient a Flatten hands back are channels-last,
    as the convolutions beside them are (mixed layouts take slow elementwise kernels)."""
    model = nn.Module()
    model.net = nn.Sequential(nn.Linear(2, 4 * 3 * 3), nn.Unflatten(1, (4, 3, 3)),
                              nn.Conv2d(4, 4, 1), nn.LeakyReLU(0.2), nn.Flatten())
    grads = []
    model.net[3].register_full_backward_hook(lambda m, gin, gout: grads.append(gout[0]))
    chosen = Precision(TrainConfig(channels_last=True), torch.device("cpu"))
    chosen.attach(model)
    inner = model.net[:2](torch.rand(5, 2))
    assert inner.is_contiguous(memory_format=torch.channels_last) and not inner.is_contiguous()
    model.net(torch.rand(5, 2)).sum().backward()
    assert grads[-1].is_contiguous(memory_format=torch.channels_last)
    chosen.detach(model)
    assert model.net[:2](torch.rand(5, 2)).is_contiguous()


@pytest.fixture
def logged_dtypes(monkeypatch) -> set[torch.dtype]:
    """The dtypes of every loss and term the trainer logged."""
    dtypes: set[torch.dtype] = set()
    real = EpochLog.add

    def add(self, name, out, n):
        dtypes.update({out.total.dtype, *(v.dtype for v in out.terms.values())})
        real(self, name, out, n)

    monkeypatch.setattr(EpochLog, "add", add)
    return dtypes


@needs_bf16
@pytest.mark.slow
@pytest.mark.parametrize("family", list(MODELS))
def test_bf16_channels_last_trains_with_fp32_losses(tmp_path, tiny, family, logged_dtypes):
    binarize = "dynamic" if family == "vae" else "none"
    cfg = {**tiny(data={"binarize": binarize}, train={"epochs": 1, **FAST}),
           "model": MODELS[family]}
    result = train(cfg, out=tmp_path / "run")
    assert result.summary["precision"] == "bf16"
    assert logged_dtypes == {torch.float32}
    row = result.history[-1]
    assert all(torch.isfinite(torch.tensor(v)) for k, v in row.items() if "/" in k)
    assert all(p.is_contiguous() and p.dtype == torch.float32 for p in result.model.parameters())
    assert result.model.sample(2).dtype == torch.float32


def _weights(run) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.safetensors").section("model")


@needs_bf16
@pytest.mark.slow
@pytest.mark.parametrize("family", ["vae", "vae-logistic"])
def test_interrupted_and_resumed_bf16_run_equals_uninterrupted(
    tmp_path, tiny, interrupted_then_resumed, family
):
    binarize = "dynamic" if family == "vae" else "none"
    cfg = {**tiny(data={"binarize": binarize}, train={"epochs": 3, **FAST}),
           "model": MODELS[family]}
    train(cfg, out=tmp_path / "full")
    result = interrupted_then_resumed(cfg, tmp_path / "cut", epoch=2)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)


@pytest.mark.slow
def test_a_failing_compiler_falls_back_to_eager_once(tmp_path, tiny, monkeypatch):
    def broken(fn, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("no C++ compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = train(tiny(train={"epochs": 1, "compile": True}), out=tmp_path / "c")
    said = [str(w.message) for w in caught if "train.compile" in str(w.message)]
    assert len(said) == 1 and "no C++ compiler here" in said[0]
    plain = train(tiny(train={"epochs": 1}), out=tmp_path / "plain")
    assert compiled.history[0]["val/loss"] == plain.history[0]["val/loss"]
    assert "forward" not in vars(compiled.model.encoder), "the eager forward is back"


@pytest.fixture
def emulated_bf16(monkeypatch) -> None:
    """bf16 as if the CPU had it: autocast computes bf16 on any CPU (slowly, without
    oneDNN's kernels), which is all the dtype tests below need."""
    monkeypatch.setattr(precision_module, "bf16_supported", lambda device: True)


@pytest.mark.parametrize("likelihood, fp32_head", [("logistic", True), ("gaussian", False)])
def test_a_likelihood_finer_than_bf16_gets_an_fp32_output_layer(likelihood, fp32_head,
                                                                emulated_bf16):
    """The logistic mixture's means need more than bf16's 8 bits: the decoder's output layer
    computes in fp32 (under autocast its output would be bf16), the layers before it in bf16;
    a Gaussian's head stays bf16. Detach removes it with the rest."""
    raw = {"model": {"name": "vae", "net": "conv", "channels": [4, 8], "latent_dim": 4,
                     "likelihood": likelihood}, "data": {"binarize": "none"}}
    model = build_model(config_from_dict(raw).model, (3, 8, 8), 10)
    head, before = model.decoder[-1], model.decoder[-3]
    assert isinstance(head, nn.ConvTranspose2d)
    seen: dict[str, torch.dtype] = {}
    head.register_forward_hook(lambda m, a, out: seen.update(head=out.dtype))
    before.register_forward_hook(lambda m, a, out: seen.update(before=out.dtype))
    chosen = Precision(TrainConfig(**FAST), torch.device("cpu"))
    chosen.attach(model)
    model.decode(torch.randn(2, 4))
    want = torch.float32 if fp32_head else torch.bfloat16
    assert seen == {"before": torch.bfloat16, "head": want}
    chosen.detach(model)
    model.decode(torch.randn(2, 4))
    assert seen == {"before": torch.float32, "head": torch.float32}


def _head_input(model, head: nn.Module, run) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """What ``head`` read during ``run()``, and what each declared fp32 layer output."""
    read, made = [], []
    handles = [head.register_forward_pre_hook(lambda m, a: read.append(a[0]))]
    handles += [layer.register_forward_hook(lambda m, a, out: made.append(out))
                for layer in model.full_precision_layers()]
    with torch.no_grad():
        run()
    for h in handles:
        h.remove()
    return read[-1], made


FP32_FAMILIES = [f for f, m in MODELS_REGISTRY.items()
                 if any(build_likelihood(name, 1, 4, 4).fp32_parameters
                        for name in m.config_class.field_choices().get("likelihood", ()))]
FP32_NETS = [(family, net) for family in FP32_FAMILIES
             for net in ([n for n in ("mlp", "conv") if n in MODELS_REGISTRY[family].config_class.
                          field_choices()["net"]] if "net" in MODELS_REGISTRY[family].config_class.
                         field_choices() else (None,))]
"""Each such family with each of the mlp and conv backbones it offers (kl-ae has its own grid
nets, no ``net``; vqvae no mlp)."""


@pytest.mark.parametrize("family, net", FP32_NETS)
def test_the_declared_fp32_layer_is_the_one_the_likelihood_reads(family, net):
    """Every family that offers a likelihood finer than bf16 declares the layer whose output
    that likelihood reads (its values, before any reshape), and no layer for another one."""
    assert {"vae", "cvae", "iwae", "vaegan", "kl-ae"} <= set(FP32_FAMILIES)
    cls = MODELS_REGISTRY[family]
    options = {**cls.tiny, "name": family, "channels": [4, 8], "likelihood": "logistic",
               "mixtures": 2, **({"net": net} if net else {})}
    model = build_model(config_from_dict({"model": options, "data": {"binarize": "none"}}).model,
                        (3, 8, 8), 10)
    z, y = model.latent_space.prior(2, torch.Generator().manual_seed(0)), torch.tensor([1, 2])
    read, made = _head_input(model, model.likelihood, lambda: model.decode(z, y))
    assert len(made) == 1 and torch.equal(made[0].flatten(1), read.flatten(1))
    options["likelihood"] = "gaussian"
    model = build_model(config_from_dict({"model": options}).model, (3, 8, 8), 10)
    assert model.full_precision_layers() == []


def test_a_family_declares_under_its_own_attribute_names(monkeypatch):
    """PixelCNN keeps its head in ``pixels`` and its network in ``net``: were its head finer
    than bf16, the declaration names the network's output layer (no ``decoder`` is looked for)."""
    raw = {"model": {"name": "pixelcnn", "layers": 2, "features": 4},
           "data": {"binarize": "dynamic"}}
    model = build_model(config_from_dict(raw).model, (1, 8, 8), 10)
    assert model.full_precision_layers() == []
    monkeypatch.setattr(type(model.pixels), "fp32_parameters", True)
    x = torch.rand(2, 1, 8, 8).round()
    read, made = _head_input(model, model.pixels, lambda: model.conditionals(x))
    assert len(made) == 1 and torch.equal(made[0], read)


class _Declared(GenerativeModel):
    """A toy whose networks are not named decoder/likelihood: only its declaration counts."""

    def __init__(self, declare: bool) -> None:
        super().__init__(ModelConfig(name="toy"), (1, 4, 4), 0)
        self.body = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2))
        self.decoder = nn.Sequential(nn.Linear(3, 2))
        self.likelihood = DiscretisedLogisticLikelihood((1, 4, 4), mixtures=1)
        self.declare = declare

    def full_precision_layers(self) -> list[nn.Module]:
        return [self.body[1]] if self.declare else []


@pytest.mark.parametrize("declare", [True, False])
def test_precision_reads_only_the_declaration(declare, emulated_bf16):
    """The declared layer computes in fp32 under autocast (its input cast up), the rest in
    bf16; a ``decoder`` beside a ``likelihood`` finer than bf16 gets nothing undeclared."""
    model = _Declared(declare)
    dtypes: dict[str, torch.dtype] = {}
    for name, layer in (("first", model.body[0]), ("last", model.body[1]),
                        ("decoder", model.decoder[0])):
        layer.register_forward_hook(lambda m, a, out, name=name: dtypes.update({name: out.dtype}))
    chosen = Precision(TrainConfig(precision="bf16"), torch.device("cpu"))
    chosen.attach(model)
    assert model.body(torch.randn(2, 3)).dtype == torch.float32
    model.decoder(torch.randn(2, 3))
    last = torch.float32 if declare else torch.bfloat16
    assert dtypes == {"first": torch.bfloat16, "last": last, "decoder": torch.bfloat16}
    chosen.detach(model)
    assert "forward" not in vars(model.body[1])
