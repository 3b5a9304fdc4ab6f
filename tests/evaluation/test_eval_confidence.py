"""Classifier believability on constructed class probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.evaluation.confidence import (
    class_entropy,
    confidence_scores,
    mean_max_softmax,
    target_accuracy,
)


def _one_hot(classes: list[int], confidence: float = 1.0) -> torch.Tensor:
    p = torch.full((len(classes), 10), (1 - confidence) / 9)
    p[torch.arange(len(classes)), torch.tensor(classes)] = confidence
    return p


def test_uniform_coverage_reaches_ln_10() -> None:
    probs = _one_hot(list(range(10)) * 20)
    assert class_entropy(probs) == pytest.approx(math.log(10))


def test_a_collapsed_set_has_zero_entropy() -> None:
    assert class_entropy(_one_hot([3] * 50)) == 0.0


def test_mean_max_softmax_and_target_accuracy() -> None:
    probs = _one_hot([0, 1, 2, 3], confidence=0.7)
    assert mean_max_softmax(probs) == pytest.approx(0.7)
    assert target_accuracy(probs, torch.tensor([0, 1, 5, 5])) == 0.5


def test_scores_report_histogram_and_bound() -> None:
    scores = confidence_scores(_one_hot([1, 1, 2]), intended=torch.tensor([1, 1, 1]))
    assert scores["class_counts"][:3] == [0, 2, 1]
    assert scores["max_class_entropy"] == pytest.approx(2.302585, abs=1e-6)
    assert scores["target_accuracy"] == pytest.approx(2 / 3)
    assert "target_accuracy" not in confidence_scores(_one_hot([1]))
