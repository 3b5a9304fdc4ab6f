"""The explorer reads each run's declared latent space: every endpoint that moves or slides
codes refuses a discrete space in one line naming it, a prior draw works on any space, and a
(c, h, w) code reaches the sliders flattened and comes back in its shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient

from genlab.explore.app import create_app
from genlab.explore.session import Explorer
from genlab.latent import ops
from latentspaces import GRID_SPACE, fake_families, in_memory  # noqa: F401 (a fixture)

GRID, POOLED = 0, 1
IMAGE = {"split": "test", "index": 3}
MOVES = {
    "decode": {"z": [0.0] * 16},
    "encode": IMAGE,
    "perturb": {"image": IMAGE, "values": [0.5]},
    "perturb centroid": {"image": IMAGE, "kind": "centroid", "values": [0.5]},
    "perturb class": {"image": IMAGE, "kind": "class", "values": [0.5], "target": "7"},
    "interpolate": {"a": IMAGE, "b": {"split": "test", "index": 4}},
    "blend": {"a_class": "1", "b_class": "7", "n": 2},
    "map": {"n": 20},
    "complete": {"image": IMAGE, "steps": 10},
}
OPS = {"decode": "the sliders", "encode": "the sliders", "perturb": "perturb",
       "perturb centroid": "centroid", "perturb class": "toward-class"}


@pytest.fixture(scope="module")
def client(fake_families, tmp_path_factory) -> Iterator[TestClient]:  # noqa: F811
    folder = tmp_path_factory.mktemp("spaces")
    state = Explorer([("grid", in_memory("poster-grid", folder)),
                      ("pooled", in_memory("pooled-code", folder))])
    with TestClient(create_app(state), raise_server_exceptions=False) as c:
        yield c
    state.close()


@pytest.mark.parametrize("move", list(MOVES))
def test_every_code_move_refuses_a_discrete_space_in_one_line(client, move):
    endpoint = move.split()[0]
    got = client.post(f"/api/runs/{GRID}/{endpoint}", json=MOVES[move])
    assert got.status_code == 400, got.text
    detail = got.json()["detail"]
    op = OPS.get(move, endpoint)
    assert detail == (f"{op} needs a continuous latent space, but the 'poster-grid' model's "
                      f"is {GRID_SPACE}")


def test_the_sliders_of_a_discrete_space_are_refused_but_its_prior_draws(client):
    info = client.get("/api/runs").json()["runs"]
    assert [r["latent_space"] for r in info] == [GRID_SPACE, "continuous (2, 7, 7)"]
    details = client.get(f"/api/runs/{GRID}")
    assert details.status_code == 400 and GRID_SPACE in details.json()["detail"]
    drawn = client.post(f"/api/runs/{GRID}/prior", json={"seed": 1}).json()
    assert len(drawn["z"]) == 16 and set(drawn["z"]) <= set(range(8))


def test_a_shaped_code_travels_flat_and_decodes_in_its_shape(client):
    run = client.app.state.explorer.get(POOLED).run
    got = client.post(f"/api/runs/{POOLED}/encode", json=IMAGE).json()
    sel = run.select("test", index=[3])
    z = ops.encode(run.model, sel.x, sel.y)
    assert got["z"] == z.flatten().tolist()  # channel, row, column: the space's C order
    again = client.post(f"/api/runs/{POOLED}/decode", json={"z": got["z"]}).json()
    assert again["image"] == got["image"]
    axes = client.get(f"/api/runs/{POOLED}").json()["axes"]
    assert len(axes["center"]) == 98 and len(axes["basis"]) == 12
    moved = client.post(f"/api/runs/{POOLED}/perturb", json=MOVES["perturb"]).json()
    assert len(moved["rows"]) == 3 and moved["numbers"]["codes_from"] == "encoder"
    assert torch.tensor(moved["numbers"]["code_shift_norm"]).shape == (1, 1)
