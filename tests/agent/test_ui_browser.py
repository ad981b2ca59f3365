"""The cluster page in a real browser (headless Chromium via Selenium) against a mixed cluster.

One cluster per module: ``py1`` (ours, serving the page), ``go1`` (Go, with a tag holding a
``<script>`` element), a Go node whose name is an HTML ``<img onerror>`` element, and ``py2``
(ours, killed by the last test). The tests run in file order and share the cluster and the
browser; the page is loaded once and never reloaded.

Screenshots go to ``$UI_SCREENSHOT_DIR`` when set (docs/img/ui-cluster.png comes from there),
else to the module's temporary directory.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.agent.agentproc import AgentProcess, free_port, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, GO_SERF, require_chromium

EVIL_TAG = "<script>window.__pwned = 1</script>"
EVIL_NAME = "<img src=x onerror=window.__pwned=2>"
DETECT = 30.0  # failure detection on loopback takes a few seconds; this only bounds a failure


@dataclass
class Cluster:
    py1: AgentProcess
    go1: AgentProcess
    evil: AgentProcess
    py2: AgentProcess
    url: str
    shots: Path

    @property
    def names(self) -> list[str]:
        return [self.py1.name, self.go1.name, self.evil.name, self.py2.name]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_chromium()
    if not GO_SERF.exists():
        pytest.skip("Go Serf is not installed at /usr/bin/serf")
    work = tmp_path_factory.mktemp("ui")
    http_port = free_port()
    py1 = AgentProcess(work, "py1", f"-http-addr=127.0.0.1:{http_port}", "-tag", "role=web")
    started = [py1]
    try:
        py1.start()
        join = f"-join={py1.bind_addr}"
        go1 = AgentProcess(work, "go1", join, "-tag", f"evil={EVIL_TAG}", go=True)
        evil = AgentProcess(work, EVIL_NAME, join, go=True)
        evil.stdout_path = work / "evil.go.out"
        evil.stderr_path = work / "evil.go.err"
        py2 = AgentProcess(work, "py2", join, "-tag", "role=db")
        for proc in (go1, evil, py2):
            started.append(proc)
            proc.start()
        shots = Path(os.environ.get("UI_SCREENSHOT_DIR") or work)
        shots.mkdir(parents=True, exist_ok=True)
        yield Cluster(py1, go1, evil, py2, f"http://127.0.0.1:{http_port}/", shots)
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture(scope="module")
def page(cluster: Cluster) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1150",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get(cluster.url)
        driver.execute_script("window.__loaded_once = true")
        yield driver
    finally:
        driver.quit()


ROWS_JS = """
return [...document.querySelectorAll('#members tbody tr')].map(
  (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
"""


COUNTS_JS = """
return [...document.querySelectorAll('#counts span')].map(
  (b) => [b.dataset.status, b.dataset.count]);
"""
HEAT_JS = """
return [...document.querySelectorAll('#heat tbody tr')].map(
  (tr) => [tr.dataset.name, ...[...tr.querySelectorAll('td')].map((td) => td.textContent)]);
"""
HOVER_JS = """
const dot = document.querySelector(`#map circle[data-name="${arguments[0]}"]`);
dot.dispatchEvent(new MouseEvent('mouseenter'));
const tip = document.getElementById('map-tip');
return [!tip.hidden, tip.textContent];
"""


def _rows(driver: WebDriver) -> dict[str, tuple[str, str]]:
    """name -> (status, tags text) as the members table shows them (read in one script call:
    the page re-renders the table on every update)."""
    cells: list[list[str]] = driver.execute_script(ROWS_JS)
    return {row[0]: (row[2], row[3]) for row in cells}


def _eventually(driver: WebDriver, what: str, condition: object, timeout: float = DETECT) -> None:
    wait_until(lambda: bool(condition()), timeout=timeout, what=what)  # type: ignore[operator]


def test_page_lists_every_member_with_its_status_and_tags(
    cluster: Cluster, page: WebDriver
) -> None:
    _eventually(
        page,
        "four alive members",
        lambda: (
            sorted(_rows(page)) == sorted(cluster.names)
            and all(s == "alive" for s, _ in _rows(page).values())
        ),
    )
    rows = _rows(page)
    assert rows["py1"][1] == "role=web" and rows["py2"][1] == "role=db"
    assert rows["go1"][1] == f"evil={EVIL_TAG}"
    counts = dict(page.execute_script(COUNTS_JS))
    assert counts == {"alive": "4", "leaving": "0", "left": "0", "failed": "0"}
    assert page.find_element(By.ID, "local-name").text == "py1"
    page.find_element(By.ID, "filter-tag").send_keys("role=db")
    assert list(_rows(page)) == ["py2"]
    page.find_element(By.ID, "filter-tag").clear()
    page.execute_script("document.getElementById('filter-tag').dispatchEvent(new Event('input'))")
    assert len(_rows(page)) == 4


def test_names_and_tags_holding_html_show_as_text_and_never_run(
    cluster: Cluster, page: WebDriver
) -> None:
    assert page.execute_script("return window.__pwned === undefined")
    assert page.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    assert EVIL_NAME in _rows(page)
    # member events reach the timeline after the agent's coalescing period
    timeline = page.find_element(By.ID, "timeline")
    _eventually(page, "the join in the timeline", lambda: EVIL_NAME in timeline.text)
    log: list[dict[str, str]] = page.get_log("browser")  # type: ignore[no-untyped-call]
    # no policy violation (nothing inline ran or was blocked) and no script error
    errors = [e["message"] for e in log if "Content Security Policy" in e["message"]]
    errors += [e["message"] for e in log if "Uncaught" in e["message"]]
    assert errors == [], errors


def test_map_has_one_point_per_alive_member_and_the_heat_map_one_row_per_member(
    cluster: Cluster, page: WebDriver
) -> None:
    alive = "#map circle.node.alive"
    _eventually(
        page,
        "a map point per member",
        lambda: (
            len(page.find_elements(By.CSS_SELECTOR, alive)) == 4
            and len(page.find_elements(By.CSS_SELECTOR, "#heat tbody tr")) == 4
        ),
    )
    heat: list[list[str]] = page.execute_script(HEAT_JS)
    assert sorted(row[0] for row in heat) == sorted(cluster.names)
    assert all(len(row) == 1 + 4 for row in heat)
    # hover in one script call (points may overlap, and the map re-renders on updates)
    shown, tip = page.execute_script(HOVER_JS, "go1")
    assert shown and tip.startswith("go1\nRTT from py1: ") and tip.endswith(" ms"), tip
    health = page.find_element(By.ID, "health").text
    assert "health score" in health and "encrypted" in health and "memberlist" in health
    page.save_screenshot(str(cluster.shots / "ui-cluster.png"))


def test_a_user_event_from_go_cli_appears_in_the_timeline(
    cluster: Cluster, page: WebDriver
) -> None:
    result = cluster.go1.serf("event", "deploy", "v42")
    assert result.returncode == 0, result.stderr
    timeline = page.find_element(By.ID, "timeline")
    _eventually(page, "the user event", lambda: "user event deploy [3 bytes] v42" in timeline.text)
    newest = page.find_element(By.CSS_SELECTOR, "#timeline li")
    assert newest.get_attribute("data-type") == "user"


def test_a_killed_member_turns_failed_without_a_reload(cluster: Cluster, page: WebDriver) -> None:
    cluster.py2.signal(signal.SIGKILL)
    _eventually(page, "py2 failed", lambda: _rows(page).get("py2", ("",))[0] == "failed")
    assert page.execute_script("return window.__loaded_once === true")
    assert "member-failed: py2 (failed)" in page.find_element(By.ID, "timeline").text
    _eventually(
        page,
        "three alive map points",
        lambda: len(page.find_elements(By.CSS_SELECTOR, "#map circle.node.alive")) == 3,
        timeout=15,
    )
    page.save_screenshot(str(cluster.shots / "ui-failed.png"))
