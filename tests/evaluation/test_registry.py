"""Each metric is declared once, with its presentation: the CLI help, the skip reasons, the
summary and the pages read the registry."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import Tensor

from genlab.cli.main import main
from genlab.evaluation import evaluate as ev
from genlab.evaluation.registry import (
    DEFAULT_METRICS,
    EIGHT_BIT,
    HEADLINES,
    METRIC_OF,
    METRICS,
    REGISTRY,
    SAMPLES,
    SUMMARY,
    Classifier,
    Needs,
    Scaled,
    floor,
    likelihood_scale,
    noise,
)
from genlab.models.core.capabilities import Decoder, HasLikelihood, Reconstructor
from genlab.report import table


def test_every_headline_is_declared_once_with_its_metric() -> None:
    keys = [h.key for m in REGISTRY.values() for h in m.headlines]
    assert len(keys) == len(set(keys)) and list(HEADLINES) == keys
    assert [k for ks in SUMMARY.values() for k in ks] == keys
    assert all(h in METRIC_OF[h.key].headlines for h in HEADLINES.values())


def test_directions_and_likelihood_scales_follow_the_declarations() -> None:
    lower = {k for k, h in HEADLINES.items() if h.lower_is_better}
    assert lower == {"nll_8bit_bpd", "neg_elbo_8bit_bpd", "nll_nats", "neg_elbo_nats", "fid",
                     "kid", "mse"}
    scaled = {k: h.scaled for k, h in HEADLINES.items() if h.scaled}
    assert scaled == {"nll_8bit_bpd": Scaled.EIGHT_BIT, "neg_elbo_8bit_bpd": Scaled.EIGHT_BIT,
                      "nll_nats": Scaled.OWN, "neg_elbo_nats": Scaled.OWN}
    binarised = "discrete, binarisation dynamic"
    assert HEADLINES["nll_8bit_bpd"].shown_on(EIGHT_BIT)
    assert not HEADLINES["nll_8bit_bpd"].shown_on(binarised)
    assert HEADLINES["nll_nats"].shown_on(binarised)
    assert not HEADLINES["nll_nats"].shown_on(EIGHT_BIT)  # a density's nats: the 8-bit column
    assert not HEADLINES["nll_nats"].shown_on(None)  # no likelihood, no likelihood number
    assert HEADLINES["fid"].shown_on(None) and HEADLINES["fid"].shown_on(EIGHT_BIT)
    assert table.arrow("fid") == "↓" and table.arrow("is") == "↑"


def test_a_likelihood_record_names_its_scale() -> None:
    assert likelihood_scale({"nll": {"scale": "density, binarisation none, 8-bit dequantised",
                                     "nll_8bit_bpd": 1.5}}) == EIGHT_BIT
    binarised = {"scale": "discrete, binarisation dynamic", "levels": 2}
    assert likelihood_scale({"nll": binarised}) == "discrete, binarisation dynamic"
    sixteen = {"scale": "discrete, binarisation none", "levels": 16}
    assert likelihood_scale({"nll": sixteen}) == "discrete, binarisation none, 16 levels"
    assert likelihood_scale({"fid": {}}) is None


def test_needs_are_typed_declarations() -> None:
    assert REGISTRY["nll"].needs == Needs((HasLikelihood,))
    assert REGISTRY["recon"].needs == Needs((Reconstructor,))
    assert REGISTRY["believability"].needs == Needs(any_of=(Reconstructor, Decoder),
                                                    classifier=Classifier.JUDGE)
    assert REGISTRY["augment"].needs == Needs(samples=True, classifier=Classifier.TRAINED)
    for name in ("fid", "kid", "pr", "is", "confidence"):
        assert REGISTRY[name].needs is SAMPLES, name
    assert Needs(samples=True, classifier=Classifier.JUDGE) == SAMPLES


class _Reconstructs:
    config = SimpleNamespace(name="toy")

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return x


def test_the_check_and_the_reason_come_from_the_declaration() -> None:
    bare = SimpleNamespace(config=SimpleNamespace(name="toy"))
    assert REGISTRY["nll"].unmet(bare) == ("nll needs a likelihood: the 'toy' model has no "
                                           "likelihood")
    assert REGISTRY["believability"].unmet(bare) == (
        "believability needs a reconstruction or a latent space and the evaluation "
        "classifier: the 'toy' model has neither a reconstruction nor a latent space")
    assert REGISTRY["believability"].unmet(_Reconstructs()) is None  # one of the two
    assert REGISTRY["recon"].unmet(_Reconstructs()) is None
    assert all(REGISTRY[m].unmet(bare) is None for m in ("fid", "augment"))  # every model samples


def test_the_evaluation_suite_and_its_help_read_the_registry(capsys) -> None:
    assert tuple(REGISTRY) == METRICS and "augment" not in DEFAULT_METRICS
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    def squeeze(text: str) -> str:  # argparse wraps lines, at spaces and after hyphens
        return "".join(text.split()).replace("-", "")

    text = squeeze(capsys.readouterr().out)
    for metric in REGISTRY.values():
        assert squeeze(metric.help_line()) in text, metric.name
    assert REGISTRY["nll"].help_line() == ("nll (-ELBO and the model's log-likelihood; needs a "
                                           "likelihood)")


def test_floors_and_evaluation_noise_are_read_from_the_declared_keys() -> None:
    assert {m.name: m.floor for m in REGISTRY.values() if m.floor} == {
        "fid": ("fid", "fid_bootstrap_sd"), "kid": ("kid", "kid_std"),
        "pr": ("precision", "recall", "density", "coverage")}
    metrics = {"fid": {"fid": 30.0, "real_fid": 1.5, "fid_bootstrap_sd": 0.4},
               "is": {"is": 3.0, "real_is": 9.0},
               "nll": {"nll_sem": 0.5, "nll_bpd_sem": 0.001}}
    assert floor(metrics, "fid") == 1.5 and floor(metrics, "is") is None  # real_is: test images
    assert noise(metrics, "fid") == 0.4 and noise(metrics, "nll_nats") == 0.5
    assert noise(metrics, "nll_8bit_bpd") == 0.001 and noise(metrics, "kid") is None


def test_each_metric_has_a_group_and_a_method_note_naming_its_source() -> None:
    for metric in REGISTRY.values():
        assert metric.method.endswith(".") and len(metric.method) > 40, metric.name
        assert metric.group and metric.headlines, metric.name
    assert "PCA" not in REGISTRY["nll"].method  # the estimators are the models' own notes
    assert [m.group for m in REGISTRY.values()][:3] == ["likelihood", "reconstruction",
                                                        "samples"]


def test_every_declared_metric_has_exactly_one_function_of_its_kind() -> None:
    tables = {"single": set(ev.SINGLE), "sampled": set(ev.SAMPLED), "judged": set(ev.JUDGED)}
    assert sum(len(t) for t in tables.values()) == len(REGISTRY)
    assert set().union(*tables.values()) == set(REGISTRY)
    for name, metric in REGISTRY.items():
        assert (name in ev.SAMPLED) == (metric.sampled and metric.judged), name
        assert (name in ev.JUDGED) == (metric.judged and not metric.sampled), name


def test_unknown_settings_and_metrics_are_refused(monkeypatch) -> None:
    from genlab.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown evaluation setting 'samples'"):
        ev.evaluate_run(None, samples=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown metric 'fd'"):
        ev.evaluate_run(None, metrics=["fd"])  # type: ignore[arg-type]
