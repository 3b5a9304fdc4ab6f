"""Debian's chromium, headless, driven by Selenium through Debian's chromedriver (``make
browser`` installs both): what the real-browser tests of the explorer and the study page share.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (run `make browser`)")


def chromium(flags: Sequence[str]) -> Iterator[object]:
    """A driver with ``flags`` and a throwaway profile, its console log kept; quit and the
    profile removed after the yield (the body of a fixture)."""
    selenium = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="genlab-chromium-")
    options = selenium.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*flags, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = selenium.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
