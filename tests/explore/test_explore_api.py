"""Every endpoint of the explorer through FastAPI's test client, on real tiny runs.

Runs: 0 = 16-D VAE (principal-direction sliders, evaluation.json), 1 = 2-D VAE, 2 = CVAE,
3 = untrained GAN (no encoder).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from genlab.explore.app import create_app
from genlab.explore.session import Explorer, principal_axes
from genlab.latent import moves
from genlab.latent.ops import decode, encode

VAE16, VAE2, CVAE, GAN = range(4)
pytestmark = pytest.mark.slow  # every test uses the session's trained runs


@pytest.fixture(scope="module")
def client(explorer: Explorer) -> Iterator[TestClient]:
    with TestClient(create_app(explorer), raise_server_exceptions=False) as c:
        yield c


def image(url: str) -> torch.Tensor:
    """A data URL back to a (H, W) uint8 tensor."""
    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return torch.from_numpy(__import__("numpy").asarray(im.convert("L")).copy())


def finish(client: TestClient, answer: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Poll a job to its end; return its result (or the direct answer if it was no job)."""
    if "job" not in answer:
        return answer
    jid, start, seen = answer["job"]["id"], time.monotonic(), []
    while time.monotonic() - start < timeout:
        view = client.get(f"/api/jobs/{jid}").json()
        seen.append(view["progress"])
        if view["state"] == "done":
            return view["result"]
        assert view["state"] != "error", view["error"]
        time.sleep(0.05)
    raise AssertionError(f"job {jid} did not finish in {timeout} s")


def test_page_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text and "http" not in page.text.split("<body")[0].lower()
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_runs_list_models_datasets_and_metrics(client: TestClient) -> None:
    runs = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["vae16", "vae2", "cvae", "gan"]
    assert runs[VAE16]["model"] == "vae" and runs[VAE16]["dataset"] == "mnist-mini"
    # the registry's headlines (a binarised VAE: nats; bits/dim stays in the record)
    assert runs[VAE16]["evaluation"] == {"nll_nats": 123.4, "neg_elbo_nats": 130.1, "fid": 42.0}
    assert runs[VAE2]["evaluation"] is None
    assert runs[CVAE]["conditional"] and not runs[GAN]["has_encoder"]
    assert all("checkpoint" not in r for r in runs)  # no file paths go to the page


def test_sliders_are_principal_directions_above_twelve_dims(
        client: TestClient, explorer: Explorer) -> None:
    axes = client.get(f"/api/runs/{VAE16}").json()["axes"]
    assert axes["labels"] == [f"PC {i}" for i in range(1, 13)]
    ratio = axes["variance_ratio"]
    assert ratio == sorted(ratio, reverse=True) and 0 < sum(ratio) <= 1 + 1e-6
    basis = torch.tensor(axes["basis"])
    assert basis.shape == (12, 16)
    assert torch.allclose(basis @ basis.T, torch.eye(12), atol=1e-4)
    small = client.get(f"/api/runs/{VAE2}").json()["axes"]
    assert small["labels"] == ["z1", "z2"] and small["basis"] == [[1.0, 0.0], [0.0, 1.0]]
    assert client.get(f"/api/runs/{GAN}").json()["axes"]["labels"] == [
        f"z{i}" for i in range(1, 9)]


def test_principal_axes_recover_a_known_direction() -> None:
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(4000, 3, generator=gen) * torch.tensor([5.0, 1.0, 0.1])
    axes = principal_axes(codes, k=2)
    assert abs(float(axes.basis[0, 0])) > 0.999
    assert abs(float(axes.scale[0]) - 5.0) < 0.3 and axes.variance_ratio[0] > 0.9


def test_decode_matches_the_model_and_moves_with_the_code(
        client: TestClient, explorer: Explorer) -> None:
    m = explorer.get(VAE16).run.model
    z = torch.zeros(16)
    got = client.post(f"/api/runs/{VAE16}/decode", json={"z": z.tolist()}).json()
    want = decode(m, z.view(1, -1))[0, 0].mul(255).round().to(torch.uint8)
    assert torch.equal(image(got["image"]), want)
    moved = client.post(f"/api/runs/{VAE16}/decode", json={"z": [3.0] * 16}).json()
    assert moved["image"] != got["image"] and moved["norm"] == pytest.approx(12.0)


def test_encode_returns_the_encoders_code(client: TestClient, explorer: Explorer) -> None:
    run = explorer.get(VAE16).run
    got = client.post(f"/api/runs/{VAE16}/encode", json={"split": "test", "index": 5}).json()
    sel = run.select("test", index=[5])
    assert got["z"] == pytest.approx(encode(run.model, sel.x).squeeze(0).tolist(), abs=1e-6)
    assert got["caption"] == sel.captions[0] and got["numbers"]["codes_from"] == "encoder"
    by_class = client.post(f"/api/runs/{VAE16}/encode", json={"cls": "7", "nth": 1}).json()
    assert by_class["label"] == 7


def test_gan_codes_come_from_an_inversion_job_with_progress(client: TestClient) -> None:
    answer = client.post(f"/api/runs/{GAN}/encode", json={"index": 0}).json()
    assert answer["job"]["state"] in ("queued", "running")
    result = finish(client, answer)
    assert len(result["z"]) == 8 and result["numbers"]["codes_from"].startswith("GAN inversion")


def test_prior_draws_are_seeded(client: TestClient) -> None:
    a = client.post(f"/api/runs/{VAE16}/prior", json={"seed": 3}).json()
    b = client.post(f"/api/runs/{VAE16}/prior", json={"seed": 3}).json()
    c = client.post(f"/api/runs/{VAE16}/prior", json={"seed": 4}).json()
    assert a["z"] == b["z"] != c["z"] and len(a["z"]) == 16


def test_conditional_runs_need_a_label(client: TestClient) -> None:
    bad = client.post(f"/api/runs/{CVAE}/decode", json={"z": [0.0] * 4})
    assert bad.status_code == 400 and "label 0..9" in bad.json()["detail"]
    assert client.post(f"/api/runs/{CVAE}/decode", json={"z": [0.0] * 4, "label": 10}
                       ).status_code == 400
    three = client.post(f"/api/runs/{CVAE}/decode", json={"z": [0.0] * 4, "label": 3}).json()
    eight = client.post(f"/api/runs/{CVAE}/decode", json={"z": [0.0] * 4, "label": 8}).json()
    assert three["image"] != eight["image"]


@pytest.mark.parametrize("kind", ["noise", "class", "centroid"])
def test_perturbations_are_the_latent_experiments(
        client: TestClient, explorer: Explorer, kind: str) -> None:
    body = {"image": {"index": 2}, "kind": kind, "values": [0, 0.5, 1], "target": "3", "seed": 1}
    got = client.post(f"/api/runs/{VAE16}/perturb", json=body).json()
    run = explorer.get(VAE16).run
    sel = run.select("test", index=[2])
    gen = torch.Generator().manual_seed(1)
    want = {"noise": lambda: moves.perturb(run, sel, [0, 0.5, 1], gen),
            "class": lambda: moves.toward_class(run, sel, "3", [0, 0.5, 1], 0.1, generator=gen),
            "centroid": lambda: moves.centroid(run, sel, [0, 0.5, 1])}[kind]()
    assert got["title"] == want.title and len(got["rows"]) == len(want.rows)
    last = want.rows[-1][0, 0].mul(255).round().to(torch.uint8)
    assert torch.equal(image(got["rows"][-1][0]), last)


def test_interpolation_strip_runs_from_a_to_b(client: TestClient) -> None:
    body = {"a": {"index": 0}, "b": {"index": 1}, "steps": 5, "method": "slerp"}
    got = client.post(f"/api/runs/{VAE16}/interpolate", json=body).json()
    strip = got["rows"][0]
    assert len(strip) == 7 and got["col_labels"][0] == "x" and got["numbers"]["method"] == "slerp"
    lerp = client.post(f"/api/runs/{VAE16}/interpolate", json={**body, "method": "lerp"}).json()
    assert lerp["rows"][0][0] == strip[0] and lerp["rows"][0][-1] == strip[-1]


def test_blend_with_weight_and_flips(client: TestClient) -> None:
    body = {"a_class": "1", "b_class": "0", "n": 3, "w": 0.6}
    got = client.post(f"/api/runs/{VAE16}/blend", json=body).json()
    assert len(got["rows"]) == 5 and len(got["rows"][4]) == 3
    flipped = client.post(f"/api/runs/{VAE16}/blend",
                          json={**body, "flip": [0], "flip_dims": [0, 3]}).json()
    assert flipped["numbers"]["flip_dims"] == [0, 3] and flipped["rows"][4] != got["rows"][4]
    refused = client.post(f"/api/runs/{GAN}/blend", json=body)
    assert refused.status_code == 400 and "needs an encoder" in refused.json()["detail"]


@pytest.mark.parametrize(("rid", "method"), [(VAE2, "raw"), (VAE16, "pca"), (VAE16, "tsne")])
def test_latent_map_job(client: TestClient, rid: int, method: str) -> None:
    got = finish(client, client.post(f"/api/runs/{rid}/map",
                                     json={"method": method, "n": 60}).json())
    assert len(got["coords"]) == len(got["labels"]) == len(got["indices"]) == 60
    assert got["numbers"]["method"] == method and len(got["class_names"]) == 10


def test_dataset_image_for_hover(client: TestClient, explorer: Explorer) -> None:
    got = client.get(f"/api/runs/{VAE16}/image", params={"split": "test", "index": 4})
    assert got.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(got.content)) as im:
        pixels = torch.from_numpy(__import__("numpy").asarray(im).copy())
    assert torch.equal(pixels, explorer.get(VAE16).run.dataset.split("test").images[4, 0])


def test_completion_job_with_named_and_drawn_masks(client: TestClient) -> None:
    named = finish(client, client.post(f"/api/runs/{VAE16}/complete", json={
        "image": {"index": 0}, "mask": "left", "steps": 30}).json())
    assert len(named["rows"]) == 3 and named["numbers"]["mask"] == "left half observed"
    drawn = [1] * (28 * 14) + [0] * (28 * 14)  # top half observed
    got = finish(client, client.post(f"/api/runs/{VAE16}/complete", json={
        "image": {"index": 0}, "mask": "drawn", "drawn": drawn, "steps": 30}).json())
    assert got["numbers"]["observed_fraction"] == [0.5]
    assert image(got["rows"][2][0])[:14].equal(image(got["rows"][0][0])[:14])


def test_job_progress_is_reported(client: TestClient) -> None:
    answer = client.post(f"/api/runs/{VAE16}/complete", json={
        "image": {"index": 1}, "mask": "random", "steps": 400}).json()
    jid = answer["job"]["id"]
    progress = []
    while (view := client.get(f"/api/jobs/{jid}").json())["state"] in ("queued", "running"):
        progress.append(view["progress"])
        time.sleep(0.01)
    assert view["state"] == "done" and view["progress"] == 1.0
    assert progress == sorted(progress)
