"""The study page and the figures of latent experiments.

``genlab.report.records``: the typed sections a page is made of; ``genlab.report.table``: the
comparison table and ``results.csv`` (over seeds: ``genlab.report.stats``, mean, sd and
Student-t intervals); ``genlab.report.html``: the page; ``genlab.report.latent``:
latent-experiment figures (built on ``genlab.figures``). Import the submodule you need:
matplotlib is only loaded by the functions that draw figures.
"""
