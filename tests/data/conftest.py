"""Keep data tests hermetic: no real ~/.cache/genlab, $GENLAB_DATA or folder cache is used."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and the folder cache point into a fresh temp dir (not tmp_path, which tests fill
    with dataset trees); $GENLAB_DATA is unset. Returns the cache dir."""
    env = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("HOME", str(env / "home"))
    monkeypatch.setenv("GENLAB_CACHE", str(env / "cache"))
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    return env / "cache"
