"""Comparative studies: every model of a list trained (or reused), evaluated and shown side by
side in one HTML report.

``config``: the study YAML as dataclasses; ``sections``: one model's evaluation and figures;
``runner``: ``run_study`` (``genlab study``) and ``report_runs`` (``genlab report``).
"""
