"""The study page and the figures of latent experiments.

``genlab.report.records``: the typed sections a page is made of; ``genlab.report.html``: the
page and ``results.csv``; ``genlab.report.latent``: latent-experiment figures (built on
``genlab.figures``). Import the submodule you need: matplotlib is only loaded by the
functions that draw figures.
"""
