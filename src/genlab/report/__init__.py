"""Figures and image files written by genlab commands.

``genlab.report.images``: image grids, row figures and image arrays/folders;
``genlab.report.curves``: learning curves; ``genlab.report.latent``: latent-experiment figures.
Each figure has a builder returning a matplotlib ``Figure`` (``grid_figure``, ``rows_figure``,
``curves_figure``, ``figure``) beside the function that writes it. Import the submodule you
need: matplotlib is only loaded by the functions that draw figures.
"""
