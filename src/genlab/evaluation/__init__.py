"""genlab's evaluation suite: sample quality, likelihoods, reconstructions and believability.

* ``metrics``: FID (Heusel et al. 2017), KID (Binkowski et al. 2018), Inception Score
  (Salimans et al. 2016) on feature matrices and class probabilities.
* ``neighbours``: precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et
  al. 2020).
* ``likelihood``: -ELBO, importance-sampled NLL (Burda et al. 2016), exact pPCA NLL.
* ``classifier`` / ``classifier_training``: the CNN whose features the distances use.
* ``reference``: cached statistics of real images; ``confidence``: classifier believability
  of samples; ``believability``: of reconstructions and perturbed codes; ``augmentation``:
  classifiers trained with generated images.
* ``evaluate``: ``evaluate_run(run)``, what ``genlab evaluate`` and the study report call.
"""

from genlab.evaluation.evaluate import DEFAULT_METRICS, METRICS, evaluate_run, summary

__all__ = ["DEFAULT_METRICS", "METRICS", "evaluate_run", "summary"]
