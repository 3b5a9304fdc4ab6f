"""The explorer's limits: bad input is a 4xx with a clear message, never a 5xx; no request
path reaches the file system; bodies are bounded; a bounded fuzz of every endpoint.

These use untrained models built in memory (instant): validation needs shapes, not good codes.
Runs 0..3: 16-D VAE, 2-D VAE, CVAE, GAN.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genlab.explore.app import MAX_BODY, create_app, static_files
from genlab.explore.jobs import MAX_PENDING, Jobs
from genlab.explore.session import Explorer

ENDPOINTS = ["decode", "prior", "encode", "perturb", "interpolate", "blend", "map", "complete"]


@pytest.fixture(scope="module")
def client(untrained_explorer: Explorer) -> Iterator[TestClient]:
    with TestClient(create_app(untrained_explorer), raise_server_exceptions=False) as c:
        yield c


def refused(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert words in response.json()["detail"], response.json()["detail"]


@pytest.mark.parametrize("path", [
    "/static/../../../etc/passwd", "/static/..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/%2e%2e/etc/passwd", "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
    "/static/..%5c..%5cwindows", "/static/app.js%00.png", "/static/__init__.py",
    "/static/../session.py", "/etc/passwd", "/../../etc/passwd", "/api/runs/../../etc/passwd",
    "/api/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/decode", "/static/.", "/static/..",
])
def test_path_traversal_is_refused(client: TestClient, path: str) -> None:
    """Refused, or (where the client itself normalises ``..`` away) one of the page's own
    assets: never a file from elsewhere."""
    got = client.get(path)
    assets = {content for content, _ in static_files().values()}
    assert got.status_code in (404, 405, 422) or got.content in assets, (path, got.status_code)
    assert "root:" not in got.text


def test_runs_are_referred_to_by_position_only(client: TestClient) -> None:
    refused(client.get("/api/runs/4"), 404, "serves runs 0..3")
    refused(client.get("/api/runs/-1"), 422, "greater than or equal to 0")
    refused(client.get("/api/runs/runs%2Fvae"), 404, "Not Found")
    refused(client.get("/api/runs/vae"), 422, "valid integer")
    refused(client.post("/api/runs/0/decode", json={"z": [0.0] * 16, "run": "/tmp/x"}), 422,
            "Extra inputs are not permitted")


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("decode", {"z": [0.0] * 15}, 400, "z has 15 values; this run's codes have 16"),
    ("decode", {"z": []}, 422, "at least 1 item"),
    ("decode", {"z": [1e9] * 16}, 422, "less than or equal to 1000"),
    ("decode", {"z": "zeros"}, 422, "valid list"),
    ("decode", {"z": [0.0] * 5000}, 422, "at most 4096 items"),
    ("decode", {}, 422, "body.z: Field required"),
    ("prior", {"seed": -1}, 422, "greater than or equal to 0"),
    ("prior", {"seed": 2**40}, 422, "less than or equal to"),
    ("encode", {"index": 10**6}, 400, "out of range for split 'test'"),
    ("encode", {"split": "nope"}, 400, "choose an image by index or by class"),
    ("encode", {"split": "nope", "index": 0}, 400, "has no split 'nope'"),
    ("encode", {"split": "../x", "index": 0}, 422, "should match pattern"),
    ("encode", {"cls": "giraffe"}, 400, "unknown class 'giraffe'"),
    ("encode", {"index": 1, "cls": "3"}, 400, "one of them"),
    ("perturb", {"image": {"index": 0}, "values": []}, 422, "at least 1 item"),
    ("perturb", {"image": {"index": 0}, "values": [11]}, 422, "less than or equal to 10"),
    ("perturb", {"image": {"index": 0}, "values": [1], "kind": "class"}, 400, "target class"),
    ("perturb", {"image": {"index": 0}, "values": [1], "kind": "warp"}, 422, "'noise'"),
    ("interpolate", {"a": {"index": 0}, "b": {"index": 1}, "steps": 1}, 422, "greater than"),
    ("interpolate", {"a": {"index": 0}, "b": {"index": 1}, "method": "cubic"}, 422, "'lerp'"),
    ("blend", {"a_class": "1", "b_class": "2", "flip_dims": [16]}, 400, "out of range (0..15)"),
    ("blend", {"a_class": "1", "b_class": "2", "flip": [9]}, 400, "flip (positions in B)"),
    ("blend", {"a_class": "1", "b_class": "2", "w": 5}, 422, "less than or equal to 2"),
    ("map", {"method": "raw"}, 400, "a raw map needs 2-D codes"),
    ("map", {"n": 2}, 422, "greater than or equal to 3"),
    ("map", {"n": 10**5}, 422, "less than or equal to 2000"),
    ("complete", {"image": {"index": 0}, "mask": "drawn"}, 400, "needs 28 x 28 = 784 values"),
    ("complete", {"image": {"index": 0}, "mask": "drawn", "drawn": [1] * 100}, 400,
     "got 100"),
    ("complete", {"image": {"index": 0}, "mask": "drawn", "drawn": [2] * 784}, 422,
     "Input should be 0 or 1"),
    ("complete", {"image": {"index": 0}, "mask": "random", "rate": 1}, 422, "less than 1"),
    ("complete", {"image": {"index": 0}, "steps": 5000}, 422, "less than or equal to 2000"),
])
def test_bad_input_is_a_clear_4xx(client: TestClient, path: str, body: dict, status: int,
                                  words: str) -> None:
    refused(client.post(f"/api/runs/0/{path}", json=body), status, words)


def test_gan_refuses_what_needs_an_encoder(client: TestClient) -> None:
    body = {"image": {"index": 0}, "values": [1], "kind": "centroid"}
    refused(client.post("/api/runs/3/perturb", json=body), 400, "needs an encoder")
    refused(client.post("/api/runs/3/map", json={}), 400, "needs an encoder")


def test_conditional_decode_needs_its_label(client: TestClient) -> None:
    refused(client.post("/api/runs/2/prior", json={}), 400, "give a label 0..9")


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    refused(client.post("/api/runs/0/decode", content=b"{not json", headers=headers), 422,
            "JSON decode error")
    refused(client.post("/api/runs/0/decode", content=b"[1, 2]", headers=headers), 422,
            "valid dictionary")
    refused(client.post("/api/runs/0/decode", content=b'{"z": [NaN]}', headers=headers), 422,
            "finite number")
    big = b'{"z": [' + b"0," * (MAX_BODY // 2) + b"0]}"
    refused(client.post("/api/runs/0/decode", content=big, headers=headers), 413,
            f"larger than the limit of {MAX_BODY} bytes")

    def chunks() -> Iterator[bytes]:  # no content-length: streamed, still counted
        yield b'{"z": ['
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"0," * 2048
        yield b"0]}"

    refused(client.post("/api/runs/0/decode", content=chunks(), headers=headers), 413,
            "larger than the limit")


def test_unknown_jobs_and_malformed_job_ids(client: TestClient) -> None:
    refused(client.get("/api/jobs/0123456789abcdef"), 404, "no job")
    refused(client.get("/api/jobs/..%2F..%2Fetc"), 404, "Not Found")
    refused(client.get("/api/jobs/XYZ"), 422, "should match pattern")


def test_too_many_jobs_are_refused_not_queued() -> None:
    import threading

    jobs, gate = Jobs(), threading.Event()
    try:
        for _ in range(MAX_PENDING):
            jobs.submit("wait", lambda job: gate.wait(10))
        with pytest.raises(Exception, match="jobs are already waiting"):
            jobs.submit("one too many", lambda job: None)
    finally:
        gate.set()
        jobs.shutdown()


def test_host_header_is_checked(untrained_explorer: Explorer) -> None:
    app = create_app(untrained_explorer, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as ok:
        assert ok.get("/api/runs").status_code == 200
    with TestClient(app, base_url="http://evil.example") as other:
        assert other.get("/api/runs").status_code == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=20,
)
FIELDS = ["z", "label", "seed", "split", "index", "cls", "nth", "image", "kind", "values",
          "target", "noise", "a", "b", "steps", "method", "a_class", "b_class", "n", "w",
          "flip", "flip_dims", "mask", "drawn", "rate", "box"]
BODIES = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6) | JSON


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rid=st.integers(-2, 5), endpoint=st.sampled_from(ENDPOINTS), body=BODIES)
def test_fuzzed_requests_never_fail_the_server(client: TestClient, rid: int, endpoint: str,
                                               body: Any) -> None:
    got = client.post(f"/api/runs/{rid}/{endpoint}", json=body)
    assert got.status_code < 500, (endpoint, body, got.text)
    if got.status_code >= 400:
        assert got.json()["detail"]


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["..", ".", "/", "%2e", "%2f", "%5c", "%00", "etc",
                                        "passwd", "app.js", "index.html", "~", "\\"]),
                     max_size=8).map("".join))
def test_fuzzed_paths_serve_only_assets(client: TestClient, path: str) -> None:
    got = client.get("/static/" + path)
    assets = {content for content, _ in static_files().values()}
    assert got.status_code < 500
    assert got.status_code != 200 or got.content in assets
