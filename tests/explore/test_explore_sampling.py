"""The explorer's sampling options: a family whose sampler has choices (DDPM's sampler, steps,
eta, guidance) lists them with its run, and a prior draw sent with them is the image
``Run.sample`` draws from the same seed; families without options list none and refuse any."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from chromium import chromium, needs_chromium
from conftest import untrained
from genlab.explore.app import create_app
from genlab.explore.images import data_url
from genlab.explore.server import serve_in_background
from genlab.explore.session import Explorer
from genlab.models.families.diffusion.ddpm import DDPM

DDPM_RUN, VAE_RUN = 0, 1
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-dev-shm-usage", "--window-size=1200,900"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    folder = tmp_path_factory.mktemp("sampling")
    state = Explorer([("ddpm", untrained(folder, {"name": "ddpm", **DDPM.tiny})),
                      ("vae", untrained(folder, {"name": "vae", "hidden": [16],
                                                 "latent_dim": 2}))])
    yield state
    state.close()


@pytest.fixture(scope="module")
def client(served: Explorer) -> Iterator[TestClient]:
    with TestClient(create_app(served), raise_server_exceptions=False) as c:
        yield c


def pixels(url: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return np.asarray(im).copy()


def test_runs_list_their_familys_sampling_options(client: TestClient) -> None:
    ddpm = client.get(f"/api/runs/{DDPM_RUN}").json()
    assert set(ddpm["sampling"]) == {"sampler", "steps", "eta", "guidance"}
    assert ddpm["sampling_choices"]["sampler"] == ["ddim", "ddpm", "dpm-solver++"]
    vae = client.get(f"/api/runs/{VAE_RUN}").json()
    assert vae["sampling"] == {} and vae["sampling_choices"] == {}


def test_a_prior_draw_with_options_is_the_samplers_image(client: TestClient,
                                                         served: Explorer) -> None:
    run = served.get(DDPM_RUN).run
    for options in ({"sampler": "ddpm", "steps": 4}, {"sampler": "ddim", "steps": 2, "eta": 0.5}):
        answer = client.post(f"/api/runs/{DDPM_RUN}/prior", json={
            "seed": 5, "label": 3, "sampling": options})
        assert answer.status_code == 200, answer.text
        out = answer.json()
        expected = run.sample(1, labels=[3], seed=5, options=options)[0]
        assert np.array_equal(pixels(out["image"]), pixels(data_url(expected)))
        assert out["numbers"]["sampling"] == {**run.sample_options().__dict__, **options,
                                              "eta": float(options.get("eta", 0.0))}
        code = run.model.sample_prior(1, torch.Generator().manual_seed(5))[0]
        assert code.shape == run.model.shape  # x_T, in the image's shape
        # the code the sampler started from, flattened as the sliders hold it
        assert torch.equal(torch.tensor(out["z"]), code.flatten())


@pytest.mark.parametrize(("rid", "sampling", "says"), [
    (DDPM_RUN, {"steps": 0}, "steps must be positive"),
    (DDPM_RUN, {"eta": -1}, "eta must not be negative"),
    (DDPM_RUN, {"sampler": "euler"}, "choose one of ddim, ddpm"),
    (DDPM_RUN, {"temperature": 0.7}, "temperature (--temperature) is not one of ddpm's"),
    (VAE_RUN, {"steps": 10}, "vae's sampling options: none"),
])
def test_bad_sampling_options_are_refused_naming_the_option(
        client: TestClient, rid: int, sampling: dict, says: str) -> None:
    answer = client.post(f"/api/runs/{rid}/prior", json={"seed": 0, "label": 0,
                                                         "sampling": sampling})
    assert answer.status_code == 400 and says in answer.json()["detail"], answer.text


@pytest.fixture(scope="module")
def page(served: Explorer) -> Iterator[tuple[object, str]]:
    """A chromium driver and the URL of a server for the DDPM and VAE runs."""
    server = serve_in_background(create_app(served, ["127.0.0.1"]))
    for driver in chromium(FLAGS):
        yield driver, server.url
    server.stop()


@pytest.mark.slow
@needs_chromium
def test_the_page_offers_the_options_and_draws_with_them(page: tuple[object, str]) -> None:
    """In Debian's chromium: the DDPM run shows one field per option; a prior draw with
    steps 2 and the ancestral sampler says so under the image, with no console error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d, url = page
    wait = WebDriverWait(d, 60, poll_frequency=0.1).until
    d.get(url + "/")
    image = lambda: d.find_element(By.ID, "current").get_attribute("src") or ""  # noqa: E731
    wait(lambda _: image().startswith("data:image/png"))
    fields = d.find_elements(By.CSS_SELECTOR, "#sampling-row [data-option]")
    assert {f.get_attribute("data-option") for f in fields} == {
        "sampler", "steps", "eta", "guidance"}
    assert d.find_element(By.ID, "sampling-row").is_displayed()
    Select(d.find_element(By.ID, "sampling-sampler")).select_by_value("ddpm")
    steps = d.find_element(By.ID, "sampling-steps")
    steps.clear()
    steps.send_keys("2")
    d.find_element(By.ID, "prior").click()
    caption = lambda: d.find_element(By.ID, "caption").text  # noqa: E731
    wait(lambda _: "steps 2" in caption())
    assert "sampler ddpm" in caption()
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
