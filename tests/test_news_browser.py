"""The news archive's pages in headless Chromium, at desktop width and at a phone's 390 px,
with JavaScript switched off: grouped results that expand, the date filter and its message,
the article page. A live server (the fake encoder) over the small news corpus.

Needs Debian's `chromium` and `chromium-driver` (skipped without them, failed under CI). Set
POISK_SCREENSHOTS to a folder to keep screenshots of the states it checks (docs/screenshots/
holds the ones docs/news-search.md shows).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpora import build_searcher
from tests.live import serving
from tests.news import write_news_corpus
from tests.test_browser import _screenshot, _submit, browser  # noqa: F401  (a fixture)

DESKTOP, PHONE = (1100, 900), (390, 844)


@pytest.fixture(scope="module")
def news_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over the news corpus; yields its URL."""
    tmp = tmp_path_factory.mktemp("news-served")
    build_searcher(tmp, write_news_corpus(tmp / "corpus"))
    with serving(tmp / "index") as running:
        yield running.base


@pytest.fixture
def no_js(browser):  # noqa: F811
    """The browser with JavaScript off in its pages, at desktop size; both restored after."""
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    yield browser
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    _size(browser, DESKTOP)


def _size(driver, size: tuple[int, int]) -> None:
    """Lay pages out at this viewport size (a phone's is also a mobile viewport)."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def _overflow(driver) -> int:
    """How many pixels the page is wider than its viewport (0: nothing to scroll sideways)."""
    scroll = driver.execute_cdp_cmd(
        "Runtime.evaluate",
        {"expression": "document.documentElement.scrollWidth - window.innerWidth"},
    )
    return int(scroll["result"]["value"])


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_grouped_results_expand_without_javascript(news_server, no_js, size) -> None:
    from selenium.webdriver.common.by import By

    _size(no_js, size)
    no_js.get(news_server + "/?q=порт+Чанкай&mode=bm25")
    results = no_js.find_elements(By.CSS_SELECTOR, "ol.results > li.result")
    assert len(results) == 4, "one result an article"
    more = no_js.find_elements(By.CSS_SELECTOR, "li.result details.more")[0]
    hidden = more.find_element(By.CSS_SELECTOR, "ul li a")
    assert not hidden.is_displayed()
    more.find_element(By.TAG_NAME, "summary").click()
    assert hidden.is_displayed() and more.get_attribute("open") is not None
    assert "more from this article" in more.find_element(By.TAG_NAME, "summary").text
    assert _overflow(no_js) <= 0
    _screenshot(no_js, f"news-grouped-more-{'phone' if size == PHONE else 'desktop'}")
    hidden.click()  # the other paragraph's link opens the article at that paragraph
    marked = no_js.find_element(By.CSS_SELECTOR, "article p.hl")
    assert "/articles/" in no_js.current_url and marked.get_attribute("id") in no_js.current_url


def test_the_date_filter_from_the_form_and_its_message(news_server, no_js) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    no_js.get(news_server + "/")
    no_js.find_element(By.NAME, "q").send_keys("порт")
    Select(no_js.find_element(By.NAME, "sort")).select_by_value("date")
    no_js.find_element(By.CSS_SELECTOR, "details.filters summary").click()
    date_from = no_js.find_element(By.NAME, "date_from")
    for keys in ("09012025", "01092025"):  # typed as a person does: month first, or day first
        date_from.clear()
        date_from.send_keys(keys)
        if date_from.get_attribute("value") == "2025-09-01":
            break
    assert date_from.get_attribute("value") == "2025-09-01"
    _submit(no_js)
    assert "date_from=2025-09-01" in no_js.current_url and "sort=date" in no_js.current_url
    dates = [
        t.get_attribute("datetime") for t in no_js.find_elements(By.CSS_SELECTOR, "li.result time")
    ]
    assert dates == sorted(dates, reverse=True) and all(d >= "2025-09-01" for d in dates)

    no_js.get(news_server + "/?q=порт&sort=date&date_from=2025-09-10&date_to=2025-09-01")
    alert = no_js.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert "date_from must not be after date_to" in alert.text and alert.is_displayed()
    assert no_js.find_element(By.NAME, "date_from").get_attribute("value") == "2025-09-10"
    assert no_js.find_element(By.NAME, "q").get_attribute("value") == "порт"
    _screenshot(no_js, "news-bad-date")
    no_js.get(news_server + "/?q=порт&date_to=2025-02-30")
    assert "date_to must be a date" in no_js.find_element(By.CSS_SELECTOR, "[role=alert]").text


def test_the_article_page_fits_a_phone(news_server, no_js) -> None:
    from selenium.webdriver.common.by import By

    _size(no_js, PHONE)
    no_js.get(news_server + "/articles/bilingual-port?q=порт+Чанкай&mode=bm25&hl=2#p2")
    assert _overflow(no_js) <= 0, "long words and links wrap"
    marks = [m.text for m in no_js.find_elements(By.CSS_SELECTOR, "article mark")]
    assert {"Порт", "Чанкай", "портом"} <= set(marks)
    heading = no_js.find_element(By.CSS_SELECTOR, "article h2")
    assert heading.get_attribute("textContent") == "Текст статьи / Article text"
    assert heading.size["width"] <= 1 and heading.size["height"] <= 1  # for screen readers only
    assert no_js.find_element(By.NAME, "q").get_attribute("value") == "порт Чанкай"
    _screenshot(no_js, "news-article-phone")
    _size(no_js, DESKTOP)
    assert _overflow(no_js) <= 0


def test_results_narrow_to_an_outlet_at_phone_width(news_server, no_js) -> None:
    from selenium.webdriver.common.by import By

    _size(no_js, PHONE)
    no_js.get(news_server + "/?q=порт&mode=bm25")
    no_js.find_element(By.CSS_SELECTOR, "a.outlet").click()
    assert "source=" in no_js.current_url
    outlets = {a.text for a in no_js.find_elements(By.CSS_SELECTOR, "li.result a.outlet")}
    assert len(outlets) == 1 and _overflow(no_js) <= 0


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_syntax_help_opens_without_javascript(news_server, no_js, size) -> None:
    from selenium.webdriver.common.by import By

    _size(no_js, size)
    no_js.get(news_server + "/?q=%22порт+Чанкай%22+-Перу&mode=bm25")
    help_ = no_js.find_element(By.CSS_SELECTOR, "details.syntax")
    example = help_.find_element(By.TAG_NAME, "dl")
    assert not example.is_displayed()
    help_.find_element(By.TAG_NAME, "summary").click()
    assert example.is_displayed() and "OR" in example.text
    snippets = no_js.find_elements(By.CSS_SELECTOR, "p.snippet")
    assert snippets and not any("Перу" in s.text for s in snippets)
    assert _overflow(no_js) <= 0
    _screenshot(no_js, f"news-syntax-{'phone' if size == PHONE else 'desktop'}")
