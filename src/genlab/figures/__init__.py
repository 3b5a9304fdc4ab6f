"""Leaf figures: image grids, row figures, image arrays/folders (``images``) and learning
curves (``curves``). They import nothing of genlab but ``io``, so training draws its epoch
grids and curves with them, and the study page (``genlab.report``) embeds them. Each figure
has a builder returning a matplotlib ``Figure`` (``grid_figure``, ``rows_figure``,
``curves_figure``) beside the function that writes it; matplotlib is loaded only by those.
"""
