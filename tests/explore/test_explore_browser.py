"""The page in a real browser: Debian's chromium, headless, driven by Selenium through Debian's
chromedriver (``make browser`` installs both). Skipped, with the reason, where they are absent.

The page must load with no console error, a slider must change the image, two picked images
must give an interpolation strip, and a screenshot is kept in ``test-artifacts/`` (git-ignored)
for a person to look at; ``GENLAB_SCREENSHOT=docs/explore.png`` writes the README's copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from chromium import ARTIFACTS, chromium, needs_chromium
from genlab.explore.app import create_app
from genlab.explore.server import serve_in_background
from genlab.explore.session import Explorer

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1100"]

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
]


@pytest.fixture(scope="module")
def page_url(explorer: Explorer) -> Iterator[str]:
    server = serve_in_background(create_app(explorer, ["127.0.0.1"]))
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium(FLAGS)


def wait_for(driver: object, condition: object, timeout: float = 60) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def test_the_page_in_chromium(browser: object, page_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    d = browser
    d.get(page_url + "/")
    current = lambda: d.find_element(By.ID, "current").get_attribute("src") or ""  # noqa: E731
    wait_for(d, lambda _: current().startswith("data:image/png"))
    assert len(d.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")) == 12
    assert "nll_nats" in d.find_element(By.ID, "runinfo").text  # evaluation.json is shown

    before = current()
    slider = d.find_element(By.ID, "slider-0")
    slider.click()  # the thumb jumps to the middle
    for _ in range(40):
        slider.send_keys(Keys.ARROW_RIGHT)
    wait_for(d, lambda _: current() != before)

    d.find_element(By.ID, "interp-a").clear()
    d.find_element(By.ID, "interp-a").send_keys("3")
    d.find_element(By.ID, "interp-b").clear()
    d.find_element(By.ID, "interp-b").send_keys("4")
    d.find_element(By.ID, "interp").click()
    strip = lambda: d.find_elements(By.CSS_SELECTOR, "#interp-strip img")  # noqa: E731
    wait_for(d, lambda _: len(strip()) == 11)  # x, 9 steps, x'
    assert len({im.get_attribute("src") for im in strip()}) > 2

    d.find_element(By.ID, "perturb").click()
    wait_for(d, lambda _: len(d.find_elements(By.CSS_SELECTOR, "#perturb-strip img")) == 9)
    d.find_element(By.ID, "map").click()
    wait_for(d, lambda _: d.execute_script("return !!(S.map && S.map.points)"))
    d.find_element(By.ID, "complete").click()
    wait_for(d, lambda _: len(d.find_elements(By.CSS_SELECTOR, "#complete-out img")) == 3)
    assert d.find_element(By.ID, "status").text == ""

    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "explore.png"
    assert d.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("GENLAB_SCREENSHOT"):
        shutil.copy(shot, os.environ["GENLAB_SCREENSHOT"])
