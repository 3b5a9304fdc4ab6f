"""The shipped classifier's feature space on real MNIST: real sets are close, damaged ones far,
and real digits are believable. Skipped without the real data."""

from __future__ import annotations

import math

import pytest
import torch
from evaldata import needs_mnist, shared_data

from genlab.data import load_dataset
from genlab.evaluation.classifier import default_classifier, load_classifier
from genlab.evaluation.confidence import confidence_scores
from genlab.evaluation.metrics import fid, kid
from genlab.evaluation.neighbours import manifold_scores


@pytest.mark.slow
@needs_mnist
def test_real_mnist_in_mnistnet_features() -> None:
    clf = load_classifier(default_classifier((1, 28, 28)))
    data = load_dataset("mnist", data_dir=shared_data(), val_size=0)
    test, train = data.split("test").images[:4000], data.split("train").images[:4000]
    noise = torch.randn(test.shape, generator=torch.Generator().manual_seed(0))
    noisy = (test.float() / 255 + 0.3 * noise).clamp(0, 1)
    f_test, p_test = clf.features_and_probs(test)
    f_train, f_noisy = clf.features(train), clf.features(noisy)
    close, far = fid(f_train, f_test), fid(f_noisy, f_test)
    # about 9 (the first test digits come from other writers than most training ones) and 1100
    assert close < 15 and far > 50 * close
    assert kid(f_noisy, f_test, subsets=20)[0] > kid(f_train, f_test, subsets=20)[0]
    same = manifold_scores(f_test, f_train)
    assert same.precision > 0.7 and same.recall > 0.7
    scores = confidence_scores(p_test)
    assert scores["mean_max_softmax"] > 0.98
    assert scores["class_entropy"] == pytest.approx(math.log(10), abs=0.01)
