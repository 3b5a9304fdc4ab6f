"""genlab's evaluation suite: sample quality, likelihoods, reconstructions and believability.

* ``metrics``: FID (Heusel et al. 2017), KID (Binkowski et al. 2018), Inception Score
  (Salimans et al. 2016) on feature matrices and class probabilities.
* ``neighbours``: precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et
  al. 2020).
* ``likelihood``: -ELBO and bits/dim beside each model's own ``log_likelihood``.
* ``registry``: each metric declared once; ``settings``: what an evaluation measures.
* ``classifier`` / ``classifier_training``: the CNN whose features the distances use.
* ``reference``: cached statistics of real images; ``confidence``: classifier believability
  of samples; ``believability``: of reconstructions and perturbed codes; ``augmentation``:
  classifiers trained with generated images.
* ``evaluate``: ``evaluate_run(run, settings)``, what ``genlab evaluate`` and the study report call.
"""

from genlab.evaluation.evaluate import evaluate_run, summary
from genlab.evaluation.registry import DEFAULT_METRICS, METRICS
from genlab.evaluation.settings import EvaluationSettings

__all__ = ["DEFAULT_METRICS", "METRICS", "EvaluationSettings", "evaluate_run", "summary"]
