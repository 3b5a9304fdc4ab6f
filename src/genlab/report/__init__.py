"""Figures and image files written by genlab commands.

``genlab.report.images``: image grids, row figures and image arrays/folders;
``genlab.report.curves``: learning curves. Import the submodule you need: matplotlib is only
loaded by the functions that draw figures.
"""
