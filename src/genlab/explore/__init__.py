"""``genlab explore``: a latent-space explorer in the browser, on the runs named at start-up.

``session`` holds the opened runs (and the slider directions of each), ``jobs`` runs long work
(posterior fits, t-SNE) in a background worker with progress, ``schemas`` validates every
request body, ``api`` holds the endpoints and ``app`` builds the FastAPI application with its
limits and error handlers; ``static/`` is the one page (HTML, JS, CSS, no build step, no CDN).
Every endpoint calls the same functions as ``genlab latent`` (``genlab.latent.moves``,
``genlab.latent.experiments``), so the page and the CLI cannot disagree. FastAPI is imported
only by ``app`` and ``api``, which the CLI imports in its handler.
"""
