"""A person's path through the site, in headless Chromium against `manage.py serve`.

Runs the real server (waitress) with the real model over the seeds. Needs Debian's
`chromium` and `chromium-driver` (the Makefile installs them where it can); without
them the test is skipped on a workstation and fails under CI. Set POISK_SCREENSHOTS to a
folder to keep screenshots of the pages it visits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.build import reindex
from tests.conftest import ROOT, SEEDS

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,900",
]

pytestmark = pytest.mark.model


def _require_browser() -> None:
    """Skip without Chromium on a workstation; in CI its absence is a failure."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = "Debian's chromium and chromium-driver are not installed"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not start (exit code {server.poll()})")


@pytest.fixture(scope="module")
def server(real_encoder, real_cross, model_cache: Path, tmp_path_factory) -> Iterator[str]:
    """`manage.py serve` over a seeds index built with the real models; yields its URL."""
    tmp = tmp_path_factory.mktemp("served")
    reindex(SEEDS, tmp / "index", real_encoder, model_cache, cross_encoder=real_cross)
    port = _free_port()
    env = {
        **os.environ,
        "POISK_INDEX": str(tmp / "index"),
        "POISK_CACHE": str(model_cache),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


def _screenshot(driver, name: str) -> None:
    folder = os.environ.get("POISK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _submit(driver) -> None:
    """Submit the search form and wait for the page it leads to: a form's navigation can
    start after click() has returned, and the page read would still be the form's."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    before = driver.current_url
    driver.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url != before)


def test_search_then_follow_a_result_to_its_article(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    # autofocus is applied once the page has rendered, a moment after load
    focused = WebDriverWait(browser, 5).until(
        lambda d: d.switch_to.active_element.get_attribute("name") == "q"
    )
    assert focused, "the search box has focus"
    browser.switch_to.active_element.send_keys("порт Чанкай", Keys.ENTER)

    results = browser.find_elements(By.CSS_SELECTOR, "ol.results li.result")
    assert results, "results are listed"
    marks = [m.text for m in results[0].find_elements(By.CSS_SELECTOR, ".snippet mark")]
    assert {"порт", "Чанкай"} <= set(marks)
    _screenshot(browser, "results")

    results[0].find_element(By.CSS_SELECTOR, "a.result-title").click()
    marked = browser.find_element(By.CSS_SELECTOR, "article p.hl")
    assert "/articles/000_f267e610140cff85" in browser.current_url
    assert marked.get_attribute("id") == "p7"
    assert "Чанкай" in marked.text
    _screenshot(browser, "article")


def test_english_question_and_the_mode_selector(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server + "/")
    Select(browser.find_element(By.NAME, "mode")).select_by_value("semantic")
    browser.find_element(By.NAME, "q").send_keys("stipends for NAM students")
    _submit(browser)
    snippets = [s.text for s in browser.find_elements(By.CSS_SELECTOR, "li.result .snippet")]
    assert any("100 стипендий" in s for s in snippets[:3])
    assert "mode=semantic" in browser.current_url


def test_script_in_a_query_does_not_run(server, browser):
    browser.get(
        server + "/?q=%3Cscript%3Ewindow.pwned%3D1%3C%2Fscript%3E%3Cimg+src%3Dx+"
        "onerror%3D%22window.pwned%3D2%22%3E"
    )
    time.sleep(0.3)
    assert browser.execute_script("return window.pwned === undefined")
    assert "<script>window.pwned=1</script>" in browser.find_element("name", "q").get_attribute(
        "value"
    )


# --- markup planted in the corpus never runs ---------------------------------------------

PWN = [
    {
        "id": "pwn",
        "title": "<script>window.pwned='title'</script> Порт",
        "url": "javascript:window.pwned='url'",
        "rubric": "<img src=x onerror=\"window.pwned='rubric'\">",
        "text": "Порт <script>window.pwned='text'</script> Чанкай.\n\n"
        "Порт <img src=x onerror=\"window.pwned='img'\"> и <svg onload=\"window.pwned='svg'\">.\n\n"
        'Порт "><script>window.pwned=\'attr\'</script><a href="javascript:window.pwned=1">x</a>',
    }
]


@pytest.fixture(scope="module")
def evil_server(tmp_path_factory) -> Iterator[str]:
    """A server (the fake encoder is enough here) over articles full of live-looking markup."""
    import json

    from tests.corpora import build_searcher, write_evil_corpus
    from tests.live import serving

    tmp = tmp_path_factory.mktemp("evil")
    source = write_evil_corpus(tmp / "corpus")
    lines = [json.dumps(article, ensure_ascii=False) for article in PWN]
    (source / "pwn.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_searcher(tmp, source)
    with serving(tmp / "index") as running:
        yield running.base


def test_script_and_handlers_in_articles_do_not_run(evil_server, browser):
    """<script>, <img onerror>, <svg onload> and javascript: links planted in titles, rubrics,
    URLs and paragraphs show as text on the results and article pages and never run."""
    from selenium.webdriver.common.by import By

    for path in ("/?q=%D0%BF%D0%BE%D1%80%D1%82+script", "/articles/pwn", "/articles/evil"):
        browser.get(evil_server + path)
        time.sleep(0.3)  # time for an <img onerror> or <svg onload> to have fired
        assert browser.execute_script("return window.pwned === undefined"), path
        planted = "return document.querySelectorAll('main script, main img, main svg').length"
        assert browser.execute_script(planted) == 0, path  # (find_elements would wait 10 s)
        if path.startswith("/?"):  # the planted markup is among the results, as text
            assert "window.pwned" in browser.find_element(By.CSS_SELECTOR, "ol.results").text
    text = browser.find_element(By.CSS_SELECTOR, "article").text  # the markup shows as text
    assert "<img src=x onerror=alert(2)>" in text and "<script>alert(1)</script>" in text
