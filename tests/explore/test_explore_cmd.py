"""``genlab explore``: the command opens the runs named, prints the URL, binds to loopback
unless told otherwise (and then warns); bad arguments are one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genlab.cli.explore_cmds import allowed_hosts, is_loopback
from genlab.cli.main import main


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.5.0.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (allowed_hosts(host) is None) is not loopback


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["explore", "runs/x", "--port", "70000"])
    assert stop.value.code == 2
    assert "expects an integer from 1 to 65,535" in capsys.readouterr().err
    assert main(["explore", "/nonexistent/run"]) == 2
    assert "genlab: error:" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_explore_serves_the_runs_named(run_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], host: str,
                                       warned: bool) -> None:
    import uvicorn
    from fastapi.testclient import TestClient

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    runs = [str(run_dirs["vae16"]), str(run_dirs["vae2"])]
    assert main(["explore", *runs, "--port", "8123", "--host", host]) == 0
    out = capsys.readouterr()
    assert f"serving 2 run(s) at http://{host}:8123/" in out.out
    assert ("warning: listening on 0.0.0.0" in out.err) is warned
    assert served["host"] == host and served["port"] == 8123
    with TestClient(served["app"], base_url="http://127.0.0.1:8123") as client:
        names = [r["name"] for r in client.get("/api/runs").json()["runs"]]
    assert names == runs
