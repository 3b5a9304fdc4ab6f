"""Each metric is declared once: the CLI help, the summary and the page read the registry."""

from __future__ import annotations

import pytest

from genlab.cli.main import main
from genlab.evaluation import evaluate as ev
from genlab.evaluation.registry import (
    DEFAULT_METRICS,
    HEADLINES,
    LIKELIHOOD_KEYS,
    LOWER_IS_BETTER,
    METRICS,
    REGISTRY,
    SUMMARY,
)
from genlab.report import table


def test_every_headline_is_declared_once_with_a_heading() -> None:
    keys = [h.key for m in REGISTRY.values() for h in m.headlines]
    assert len(keys) == len(set(keys)) and list(HEADLINES) == keys
    assert [k for ks in SUMMARY.values() for k in ks] == keys
    assert {k: h.heading for k, h in HEADLINES.items()} == table.HEADINGS
    assert keys == table.ORDER


def test_directions_and_scales_follow_the_declarations() -> None:
    assert {"nll_nats", "nll_bpd", "nll_8bit_bpd", "neg_elbo_nats"} == LIKELIHOOD_KEYS
    assert {"fid", "kid", "mse"} | LIKELIHOOD_KEYS == LOWER_IS_BETTER
    assert table.arrow("fid") == "↓" and table.arrow("is") == "↑"


def test_the_evaluation_suite_and_its_help_read_the_registry(capsys) -> None:
    assert tuple(REGISTRY) == METRICS and "augment" not in DEFAULT_METRICS
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    def squeeze(text: str) -> str:  # argparse wraps lines, at spaces and after hyphens
        return "".join(text.split()).replace("-", "")

    text = squeeze(capsys.readouterr().out)
    for metric in REGISTRY.values():
        assert squeeze(f"{metric.name} ({metric.help})") in text, metric.name


def test_each_metric_has_a_method_note_naming_its_source() -> None:
    for metric in REGISTRY.values():
        assert metric.method.endswith(".") and len(metric.method) > 40, metric.name
        assert metric.needs and metric.headlines, metric.name


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
