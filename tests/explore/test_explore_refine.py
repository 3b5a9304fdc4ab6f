"""The explorer's latent moves with ``refine``: a diffusion prior's refined rows below the plain
ones, the same as the latent experiment's; a model without one, or a level outside (0, 1],
refused before any work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient

from genlab.explore.app import create_app
from genlab.explore.images import data_urls
from genlab.explore.session import Explorer
from genlab.latent import moves
from genlab.runs import open_run
from refineruns import train_vae_and_prior

VAE, PRIOR = range(2)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    dirs = train_vae_and_prior(tmp_path_factory.mktemp("explore-refine"))
    state = Explorer([(name, open_run(path)) for name, path in dirs.items()])
    yield state
    state.close()


@pytest.fixture(scope="module")
def client(served: Explorer) -> Iterator[TestClient]:
    with TestClient(create_app(served), raise_server_exceptions=False) as c:
        yield c


def test_the_page_knows_which_runs_refine(client: TestClient) -> None:
    assert client.get(f"/api/runs/{PRIOR}").json()["refines"] is True
    assert client.get(f"/api/runs/{VAE}").json()["refines"] is False


def test_a_refined_perturbation_is_the_experiments(client: TestClient, served: Explorer) -> None:
    body = {"image": {"index": 2}, "kind": "noise", "values": [1, 2], "seed": 3, "refine": 0.4}
    got = client.post(f"/api/runs/{PRIOR}/perturb", json=body).json()
    run = served.get(PRIOR).run
    want = moves.perturb(run, run.select("test", index=[2]), [1, 2],
                         torch.Generator().manual_seed(3), refine=0.4)
    assert got["numbers"]["refined_rows"] == [[4, 5]] and len(got["rows"]) == 6
    assert got["rows"] == [data_urls(row) for row in want.rows]
    assert got["row_labels"][5] == "σ = 2\nrefined t*=0.4"


def test_interpolation_and_blend_take_refine(client: TestClient) -> None:
    path = client.post(f"/api/runs/{PRIOR}/interpolate", json={
        "a": {"index": 0}, "b": {"index": 1}, "steps": 3, "refine": 0.5}).json()
    assert len(path["rows"]) == 2 and path["numbers"]["refine"] == [0.5]
    mixed = client.post(f"/api/runs/{PRIOR}/blend", json={
        "a_class": "4", "b_class": "9", "n": 2, "refine": 1.0}).json()
    assert len(mixed["rows"]) == 6 and mixed["numbers"]["refined_rows"] == [[5]]


def test_refine_is_refused_where_it_cannot_run(client: TestClient) -> None:
    body = {"image": {"index": 0}, "kind": "noise", "values": [1], "refine": 0.5}
    refused = client.post(f"/api/runs/{VAE}/perturb", json=body)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("refine needs a model whose prior")
    for bad in (0, 1.5):
        answer = client.post(f"/api/runs/{PRIOR}/perturb", json={**body, "refine": bad})
        assert answer.status_code == 422, bad
