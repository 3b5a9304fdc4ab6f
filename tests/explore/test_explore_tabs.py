"""Several browser tabs at once: concurrent clients on a real server, each with its own run and
codes, get exactly the answers they would get alone, while a fit runs in the background."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from genlab.explore.app import create_app
from genlab.explore.server import serve_in_background
from genlab.explore.session import Explorer

VAE16, VAE2 = 0, 1
TABS = 6
REQUESTS = 15

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(explorer: Explorer) -> Iterator[str]:
    server = serve_in_background(create_app(explorer, ["127.0.0.1"]))
    yield server.url
    server.stop()


def request_for(tab: int, k: int) -> tuple[int, dict]:
    """Tab t alternates between the two VAEs with codes of its own."""
    rid = VAE16 if tab % 2 == 0 else VAE2
    dims = 16 if rid == VAE16 else 2
    return rid, {"z": [((tab + 1) * (k + 1) % 7 - 3) / 2] * dims}


def test_concurrent_tabs_get_their_own_answers_while_a_job_runs(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as solo:
        expected = {(t, k): solo.post(f"/api/runs/{rid}/decode", json=body).json()["image"]
                    for t in range(TABS) for k in range(REQUESTS)
                    for rid, body in [request_for(t, k)]}
        job = solo.post(f"/api/runs/{VAE16}/complete", json={
            "image": {"index": 2}, "mask": "random", "steps": 600}).json()["job"]

    def tab(t: int) -> list[tuple[int, int, int, str]]:
        with httpx.Client(base_url=url, timeout=60) as client:
            answers = []
            for k in range(REQUESTS):
                rid, body = request_for(t, k)
                r = client.post(f"/api/runs/{rid}/decode", json=body)
                answers.append((t, k, r.status_code, r.json().get("image", "")))
            return answers

    with ThreadPoolExecutor(TABS) as pool:
        results = [a for answers in pool.map(tab, range(TABS)) for a in answers]
    assert len(results) == TABS * REQUESTS
    assert all(status == 200 for _, _, status, _ in results)
    assert all(img == expected[(t, k)] for t, k, _, img in results)
    with httpx.Client(base_url=url, timeout=60) as client:
        while (view := client.get(f"/api/jobs/{job['id']}").json())["state"] in ("queued",
                                                                                "running"):
            time.sleep(0.05)
        assert view["state"] == "done"
