"""The explorer's endpoints: thin adapters from validated bodies to genlab's latent functions.

Every move calls the function ``genlab latent`` calls (``latent.moves``, ``latent.experiments``)
and returns its images as PNG data URLs with the numbers behind them. What a move needs of the
run's latent space is checked first, with the experiment's own requirement
(``latent.requirements``): a refusal is one line naming the space, never a failed job. Codes
travel as the sliders hold them, flattened to the space's ``latent_dim`` coordinates. Work that
fits codes (a model without an encoder, completion) or projects many codes (maps) becomes a
background job (``jobs``): the answer is then ``{"job": {...}}``, to poll at ``/api/jobs/ID``.
Handlers are plain functions, which the server runs in its thread pool: a slow one never holds
up the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any

import torch
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from genlab.errors import ConfigError
from genlab.explore import schemas as s
from genlab.explore.images import data_url, data_urls, png_bytes
from genlab.explore.jobs import Job
from genlab.explore.session import Explorer, Served
from genlab.io import jsonable
from genlab.latent import experiments as ex
from genlab.latent import moves
from genlab.latent.fit import FitOptions, fit_progress
from genlab.latent.ops import decode
from genlab.latent.refine import refine_levels
from genlab.latent.requirements import check
from genlab.latent.results import ExperimentResult
from genlab.runs import Selection

router = APIRouter(prefix="/api")
RunId = Annotated[int, Path(ge=0, le=1000, description="position of the run on the command line")]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def explorer(request: Request) -> Explorer:
    return request.app.state.explorer


State = Annotated[Explorer, Depends(explorer)]


def result_view(result: ExperimentResult) -> dict[str, Any]:
    """An experiment's rows as data URLs, with its labels, title and numbers."""
    return {"rows": [data_urls(row) for row in result.rows], "row_labels": result.row_labels,
            "col_labels": result.col_labels, "title": result.title,
            "numbers": jsonable(result.numbers)}


def offload(state: Explorer, served: Served, kind: str, work: Callable[[], Any],
            fits: bool, always: bool = False) -> Any:
    """Run ``work`` now, or as a background job when it fits codes (a model without an encoder
    inverts its generator) or ``always`` (completion, maps). A job's progress is the fit's
    optimiser steps (``genlab.latent.fit.fit_progress``) when it ``fits``, else unmeasured."""
    if not always and served.has_encoder:
        return work()

    def tracked(job: Job) -> Any:
        if not fits:
            job.update(None, "working")
            return work()
        job.update(0.0, "fitting")
        with fit_progress(lambda step, steps: job.update(0.99 * step / steps)):
            return work()

    return {"job": state.jobs.submit(kind, tracked).view()}


def _label(served: Served, label: int | None, n: int) -> torch.Tensor:
    """Labels for decoding n codes: required (0..K-1) for a conditional model, else unused."""
    m = served.run.model
    if not m.conditional:
        return torch.full((n,), -1, dtype=torch.long)
    if label is None or label >= m.num_classes:
        raise ConfigError(f"this run is conditional ({m.config.name}): give a label 0.."
                          f"{m.num_classes - 1}, got {label}")
    return torch.full((n,), label, dtype=torch.long)


def _select(served: Served, pick: s.Pick) -> Selection:
    return served.pick(pick.split, pick.index, pick.cls, pick.nth)


@router.get("/runs")
def list_runs(state: State) -> dict[str, Any]:
    return {"runs": [served.info() for served in state.runs]}


@router.get("/runs/{rid}")
def run_details(rid: RunId, state: State) -> dict[str, Any]:
    served = state.get(rid)
    return {**served.info(), "axes": served.axes().view()}


@router.get("/runs/{rid}/image")
def dataset_image(
    rid: RunId, state: State, split: Annotated[str, Query(pattern=r"^[a-z_]{1,16}$")] = "test",
    index: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """A dataset image as it is stored (uint8), as PNG: what the map shows on hover."""
    part = state.get(rid).run.dataset.split(split)
    if index >= len(part):
        raise ConfigError(f"index {index} is out of range for split {split!r} "
                          f"({len(part)} images)")
    return Response(png_bytes(part.images[index]), media_type="image/png",
                    headers={"Cache-Control": "max-age=3600"})


@router.post("/runs/{rid}/decode")
def decode_code(rid: RunId, body: s.Decode, state: State) -> dict[str, Any]:
    """The decoder mean of one code: what the sliders call on every move."""
    served = state.get(rid)
    m = served.run.model
    check(m, "the sliders")
    if len(body.z) != m.latent_dim:
        raise ConfigError(f"z has {len(body.z)} values; this run's codes have {m.latent_dim}")
    z = torch.tensor([body.z], dtype=torch.float32)
    image = decode(m, z, _label(served, body.label, 1))[0]
    return {"image": data_url(image), "norm": float(z.norm())}


@router.post("/runs/{rid}/prior")
def prior_draw(rid: RunId, body: s.Prior, state: State) -> dict[str, Any]:
    """A code drawn from the prior (seeded) and its decode; with ``sampling``, the image the
    family's sampler draws from that code (``Run.sample`` with the same seed)."""
    served = state.get(rid)
    m = served.run.model
    z = m.latent_space.sample(1, torch.Generator().manual_seed(body.seed))
    labels = _label(served, body.label, 1)
    numbers: dict[str, Any] = {"source": "prior", "seed": body.seed}
    if body.sampling is None:
        image = decode(m, z, labels)[0]
    else:
        options = served.run.sample_options(_typed(body.sampling))
        image = served.run.sample(1, labels=labels, seed=body.seed, options=options)[0]
        numbers["sampling"] = dataclasses.asdict(options)
    return {"z": z[0].flatten().tolist(), "image": data_url(image), "label": body.label,
            "numbers": numbers}


def _typed(values: dict[str, float | str]) -> dict[str, float | int | str]:
    """JSON numbers arrive as floats: a whole one becomes an int (``steps``), which the
    family's options take as a float where they expect one."""
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in values.items()}


@router.post("/runs/{rid}/encode")
def encode_image(rid: RunId, body: s.Pick, state: State) -> Any:
    """A dataset image's code: the encoder's, or (no encoder) a fitted inversion (a job)."""
    served = state.get(rid)
    sel, m = _select(served, body), served.run.model
    check(m, "the sliders")

    def work() -> dict[str, Any]:
        z, source = moves.codes(m, sel.x, sel.y)
        label = int(sel.y[0])
        return {"z": z[0].flatten().tolist(), "label": label if label >= 0 else None,
                "caption": sel.captions[0], "original": data_url(sel.x[0]),
                "image": data_url(decode(m, z, sel.y)[0]),
                "numbers": jsonable({"selection": sel.source, **source})}

    return offload(state, served, "encode", work, fits=True)


PERTURBATIONS = {"noise": "perturb", "centroid": "centroid", "class": "toward-class"}
"""Each kind of perturbation's experiment (its requirement's name)."""


@router.post("/runs/{rid}/perturb")
def perturb(rid: RunId, body: s.Perturb, state: State) -> Any:
    """The three perturbations of one image's code, one decode per sigma or alpha."""
    served = state.get(rid)
    run, sel = served.run, _select(served, body.image)
    check(run.model, PERTURBATIONS[body.kind])
    refine_levels(run.model, body.refine)
    gen = torch.Generator().manual_seed(body.seed)
    if body.kind == "noise":
        return offload(state, served, "perturb", lambda: result_view(
            moves.perturb(run, sel, body.values, gen, refine=body.refine)), fits=True)
    if body.kind == "centroid":
        return result_view(moves.centroid(run, sel, body.values, refine=body.refine,
                                          generator=gen))
    if body.target is None:
        raise ConfigError("a move toward a class needs its target class")
    return result_view(moves.toward_class(run, sel, body.target, body.values, body.noise,
                                          generator=gen, refine=body.refine))


@router.post("/runs/{rid}/interpolate")
def interpolate(rid: RunId, body: s.Interpolate, state: State) -> Any:
    """The strip x_a, decodes along lerp or slerp (White 2016), x_b."""
    served = state.get(rid)
    check(served.run.model, "interpolate")
    refine_levels(served.run.model, body.refine)
    a, b = _select(served, body.a), _select(served, body.b)
    gen = torch.Generator().manual_seed(body.seed)
    return offload(state, served, "interpolate", lambda: result_view(moves.interpolate(
        served.run, b, a, body.steps, body.method, refine=body.refine, generator=gen)),
        fits=True)


@router.post("/runs/{rid}/blend")
def blend(rid: RunId, body: s.Blend, state: State) -> dict[str, Any]:
    """Blends of the first n images of two classes, with sign flips."""
    served = state.get(rid)
    run = served.run
    check(run.model, "blend")
    refine_levels(run.model, body.refine)
    a = run.select(body.split, body.n, cls=body.a_class)
    b = run.select(body.split, body.n, cls=body.b_class)
    return result_view(moves.blend(run, a, b, body.w, body.flip, body.flip_dims, body.refine,
                                   torch.Generator().manual_seed(body.seed)))


@router.post("/runs/{rid}/map")
def latent_map(rid: RunId, body: s.Map, state: State) -> Any:
    """A 2-D map of codes (raw, PCA or t-SNE), always as a job (t-SNE takes seconds)."""
    served = state.get(rid)
    run = served.run
    check(run.model, "map")
    if body.method == "raw" and run.model.latent_dim != 2:
        raise ConfigError(f"a raw map needs 2-D codes; this run's have {run.model.latent_dim}: "
                          "use pca or tsne")
    sel = run.select(body.split, body.n)

    def work() -> dict[str, Any]:
        result = ex.latent_map(run, sel, body.method, body.seed)
        return {"coords": result.projection.coords.tolist(), "labels": result.labels.tolist(),
                "indices": result.indices, "split": body.split, "title": result.title,
                "class_names": result.class_names, "numbers": jsonable(result.numbers)}

    return offload(state, served, "map", work, fits=False, always=True)


@router.post("/runs/{rid}/complete")
def complete(rid: RunId, body: s.Complete, state: State) -> Any:
    """Completion of one image from a mask by a posterior fit through the decoder (a job)."""
    served = state.get(rid)
    run, sel = served.run, _select(served, body.image)
    check(run.model, "complete")
    _, h, w = run.model.shape
    if body.mask == "drawn":
        if body.drawn is None or len(body.drawn) != h * w:
            got = "none" if body.drawn is None else len(body.drawn)
            raise ConfigError(f"a drawn mask needs {h} x {w} = {h * w} values, got {got}")
        mask = torch.tensor(body.drawn, dtype=torch.float32).view(1, 1, h, w)
        name = f"drawn mask, {1 - mask.mean():.0%} hidden"
    else:
        gen = torch.Generator().manual_seed(body.seed)
        mask, name = ex.completion_mask(run, 1, body.mask, body.rate, body.box, generator=gen)
    options = FitOptions(steps=body.steps, seed=body.seed)
    return offload(state, served, "complete", lambda: result_view(
        ex.complete(run, sel, mask, options, name)), fits=True, always=True)


@router.get("/jobs/{jid}")
def job_status(jid: JobId, state: State) -> dict[str, Any]:
    return state.jobs.get(jid).view()
