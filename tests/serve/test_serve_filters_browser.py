"""The page's filters end to end in Debian's chromium (Playwright), on a desktop and a 390 px
phone screen, against the tiny workspace (its answers are known by hand, ``serve_data.py``):
Movie → every card is a Movie; a year range, a season and a minimum of episodes narrow the list
and go out as the API's query parameters (the list and "More like this"); a refused value (from
year after to year) is a readable message naming the filter; a reload keeps every control; the
genre suggestions come from ``GET /genres``; no content-security-policy violation. Screenshots go
to ``$ANIMEREC_ARTIFACTS``.

Fails (never skips) when chromium is missing: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from serve_data import SERVE_MODELS, TINY_ANIME
from test_serve_browser import CHROMIUM, CHROMIUM_ARGS, _artifacts_dir, _free_port

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
TYPE = {a[0]: a[3] for a in TINY_ANIME}
YEAR = {a[0]: int(re.search(r"\d{4}", a[5]).group()) for a in TINY_ANIME}
SEASON = {a[0]: a[6].split(" ")[0] for a in TINY_ANIME}
EPISODES = {a[0]: a[4] for a in TINY_ANIME}


@pytest.fixture(scope="module")
def tiny_server(tiny_workspace, tmp_path_factory) -> Iterator[str]:
    from animerec.serve.app import create_app

    db_url = f"sqlite:///{tmp_path_factory.mktemp('filters-e2e') / 'feedback.db'}"
    app = create_app(tiny_workspace, db_url=db_url, models=list(SERVE_MODELS))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _cards(page) -> list[int]:
    return [
        int(x)
        for x in page.locator("article.card").evaluate_all("cs => cs.map(c => c.dataset.animeId)")
    ]


def _wait_cards(page, allowed: set[int]) -> list[int]:
    """Waits until the list is not empty and holds only ``allowed`` ids (the refresh landed)."""
    page.wait_for_function(
        "ok => { const cs = [...document.querySelectorAll('article.card')];"
        " return !document.querySelector('#results[aria-busy]') && cs.length > 0"
        " && cs.every(c => ok.includes(Number(c.dataset.animeId))); }",
        arg=sorted(allowed),
    )
    return _cards(page)


def _set(page, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.locator(selector).dispatch_event("change")


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_filters_on_the_page(tiny_server: str, tmp_path: Path, screen: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver", pytrace=False
        )
    from playwright.sync_api import expect, sync_playwright

    base = tiny_server
    shots = _artifacts_dir(tmp_path)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORTS[screen],
        )
        try:
            page = ctx.new_page()
            csp: list[str] = []
            page.on(
                "console",
                lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None,
            )
            asked: list[str] = []
            page.on(
                "request",
                lambda r: (
                    asked.append(r.url)
                    if "/recommendations?" in r.url or "/similar?" in r.url
                    else None
                ),
            )
            page.goto(base + "/")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")

            # like Cowboy Bebop: the list is the space westerns and the shows everyone likes
            page.fill("#search", "bebop")
            page.locator("li.suggestion[data-anime-id='1'] button.like").click()
            everything = set(TYPE) - {1}
            assert len(_wait_cards(page, everything)) >= 5

            # the genre suggestions come from the catalog (GET /genres)
            genres = page.locator("#genre-list option").evaluate_all("os => os.map(o => o.value)")
            assert {"Drama", "Sci-Fi", "Space"} <= set(genres)

            # Movie → every card is a Movie
            page.locator("#filters summary").click()
            page.check("#filters input[value=Movie]")
            movies = {a for a, t in TYPE.items() if t == "Movie"}
            assert set(_wait_cards(page, movies - {1})) == {2}
            assert all(
                m.startswith("Movie") for m in page.locator("article.card .meta").all_inner_texts()
            )
            assert "types=Movie" in asked[-1]
            page.screenshot(path=str(shots / f"filters-movie-{screen}.png"), full_page=True)
            page.uncheck("#filters input[value=Movie]")
            _wait_cards(page, everything)

            # a year range; "from" after "to" is refused by the API, and the page says which
            _set(page, "#year-min", "1998")
            _set(page, "#year-max", "2004")
            in_range = {a for a in everything if 1998 <= YEAR[a] <= 2004}
            assert set(_wait_cards(page, in_range)) == in_range
            assert "year_min=1998" in asked[-1] and "year_max=2004" in asked[-1]
            _set(page, "#year-min", "2010")
            expect(page.locator("#status.error")).to_contain_text("from year")
            expect(page.locator("#status")).to_contain_text("(year_min): 2010 is after year_max")
            page.screenshot(path=str(shots / f"filters-422-{screen}.png"), full_page=True)
            _set(page, "#year-min", "1998")
            _wait_cards(page, in_range)
            expect(page.locator("#status.error")).to_have_count(0)

            # TV, Spring, at least 20 episodes: also for "More like this"
            page.check("#filters input[value=TV]")
            page.select_option("#season", "Spring")
            _set(page, "#min-episodes", "20")
            narrow = {
                a
                for a in in_range
                if TYPE[a] == "TV" and SEASON[a] == "Spring" and EPISODES[a] >= 20
            }
            assert set(_wait_cards(page, narrow)) == narrow
            expect(page.locator("#filter-summary")).to_contain_text("1998–2004")
            page.locator("article.card button.more-like").first.click()
            expect(page.locator("#like-this")).to_be_visible()
            _wait_cards(page, narrow)
            similar = [u for u in asked if "/similar?" in u]
            assert similar and all(
                p in similar[-1]
                for p in ("types=TV", "year_min=1998", "seasons=Spring", "min_episodes=20")
            )
            page.click("#back")

            # a reload keeps every control, and the list still obeys them
            page.reload()
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            assert page.is_checked("#filters input[value=TV]")
            assert not page.is_checked("#filters input[value=Movie]")
            assert page.input_value("#year-min") == "1998"
            assert page.input_value("#year-max") == "2004"
            assert page.input_value("#season") == "Spring"
            assert page.input_value("#min-episodes") == "20"
            assert set(_wait_cards(page, narrow)) == narrow
            page.locator("#filters summary").click()
            page.screenshot(path=str(shots / f"filters-after-reload-{screen}.png"), full_page=True)
            if screen == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= 390

            page.click("#clear-filters")
            _wait_cards(page, everything)
            assert page.input_value("#year-min") == ""
            assert not csp, csp
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)
