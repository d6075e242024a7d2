"""The fan's page end to end in Debian's chromium (Playwright), on a desktop and a phone screen:
import a real MyAnimeList export, Japanese and empty searches, no adult suggestions unless the
toggle is on, cards in words, "More like this", state kept across a reload, "Start over" that
asks and erases the server copy, the favicon. Screenshots go to ``$ANIMEREC_ARTIFACTS``.

Fails (never skips) when chromium is missing: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from test_serve_browser import CHROMIUM, CHROMIUM_ARGS, _artifacts_dir, _free_port
from test_serve_fan import mal_export

from animerec.data.catalog import Catalog
from animerec.data.content_rating import adult_mask

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# real MAL ids: scored completed, one dropped, watching / planned ones, one id MAL never had
MY_LIST = [
    (1, 10, "Completed"),  # Cowboy Bebop
    (1575, 9, "Completed"),  # Code Geass
    (9253, 9, "Completed"),  # Steins;Gate
    (6, 8, "Completed"),  # Trigun
    (21, 3, "Dropped"),  # One Piece
    (11061, 0, "Watching"),  # Hunter x Hunter (2011)
    (2904, 0, "Plan to Watch"),  # Code Geass R2
    (99_999_999, 7, "Completed"),
]
EXCLUDED = {21, 11061, 2904}
RAW_SCORE = re.compile(r"score -?\d|\(-?\d\.\d\d\)|\d\.\d{3}")


@pytest.fixture(scope="module")
def fan_server(sample_workspace, tmp_path_factory) -> Iterator[tuple[str, str]]:
    from animerec.serve.app import create_app

    db_url = f"sqlite:///{tmp_path_factory.mktemp('fan-e2e') / 'feedback.db'}"
    app = create_app(sample_workspace, db_url=db_url, models=["ease", "popularity"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", db_url
    server.should_exit = True
    thread.join(timeout=30)


def _suggested(page) -> list[int]:
    return [
        int(x)
        for x in page.locator("li.suggestion[data-anime-id]").evaluate_all(
            "ls => ls.map(l => l.dataset.animeId)"
        )
    ]


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_fan_page(fan_server, sample_catalog: Catalog, tmp_path: Path, screen: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver", pytrace=False
        )
    from playwright.sync_api import expect, sync_playwright

    base, _ = fan_server
    shots = _artifacts_dir(tmp_path)
    adult = set(sample_catalog.anime_ids[adult_mask(sample_catalog)].tolist())
    export = tmp_path / "animelist_1607000000_-_1234.xml.gz"
    export.write_bytes(gzip.compress(mal_export(MY_LIST)))
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
            page.goto(base + "/")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            icon = page.request.get(base + "/favicon.ico")
            assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"

            # search: Japanese titles, "no titles match", no adult titles unless asked
            page.fill("#search", "カウボーイビバップ")
            expect(page.locator("li.suggestion").first).to_contain_text("Cowboy Bebop")
            page.fill("#search", "zzzzqqqqxxxx")
            expect(page.locator("li.suggestion.none")).to_contain_text("No titles match")
            page.fill("#search", "maid")
            expect(page.locator("li.suggestion[data-anime-id]").first).to_be_visible()
            assert not adult & set(_suggested(page))
            page.check("#adult")
            expect(page.locator("li.suggestion[data-anime-id]").first).to_be_visible()
            page.wait_for_function(
                "ids => [...document.querySelectorAll('li.suggestion[data-anime-id]')]"
                ".some(l => ids.includes(Number(l.dataset.animeId)))",
                arg=sorted(adult),
            )
            page.uncheck("#adult")
            page.fill("#search", "")

            # bring a MyAnimeList export
            page.locator("#import summary").click()
            page.set_input_files("#mal-file", str(export))
            result = page.locator("#import-result")
            expect(result).to_contain_text("Imported 4 rated titles and 1 dropped")
            expect(result).to_contain_text("1 title is not in this catalog")
            expect(page.locator("#picks li")).to_have_count(5)
            cards = page.locator("article.card")
            expect(cards.nth(4)).to_be_visible()
            page.screenshot(path=str(shots / f"fan-import-{screen}.png"), full_page=True)
            shown = {int(x) for x in cards.evaluate_all("cs => cs.map(c => c.dataset.animeId)")}
            assert not shown & (EXCLUDED | {1, 1575, 9253, 6})

            # cards speak in words: no raw scores, MAL score and members, a match indicator
            texts = cards.all_inner_texts()
            assert not [t for t in texts if RAW_SCORE.search(t)], texts[:3]
            assert all("members" in t for t in texts)
            assert page.locator("article.card .match[aria-label]").count() == cards.count()
            reasons = page.locator("article.card .reason").all_inner_texts()
            assert all(r.strip() for r in reasons)

            # more like this, and back
            first_name = cards.first.locator("h3").inner_text()
            cards.first.locator("button.more-like").click()
            expect(page.locator("#like-this")).to_contain_text(f"More like {first_name}")
            expect(cards.nth(2)).to_be_visible()
            page.click("#back")
            expect(page.locator("#like-this")).to_be_hidden()

            # the model, the slider and the adult toggle survive a reload
            page.select_option("#model", "popularity")
            page.locator("#explore").fill("0.5")
            page.locator("#explore").dispatch_event("change")
            page.check("#adult")
            page.reload()
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            assert page.input_value("#model") == "popularity"
            assert float(page.input_value("#explore")) == 0.5
            assert page.is_checked("#adult")
            expect(page.locator("#picks li")).to_have_count(5)

            if screen == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= 390

            # start over: it asks; cancel keeps everything; confirm erases the server copy
            me = page.evaluate("JSON.parse(localStorage.getItem('animerec.user'))")
            auth = {"Authorization": f"Bearer {me['token']}"}
            assert page.request.get(f"{base}/users/{me['id']}", headers=auth).status == 200
            page.click("#reset")
            expect(page.locator("#reset-dialog")).to_be_visible()
            page.screenshot(path=str(shots / f"fan-start-over-{screen}.png"))
            page.locator("#reset-dialog button[value=cancel]").click()
            expect(page.locator("#picks li")).to_have_count(5)
            page.click("#reset")
            expect(page.locator("#erase-too")).to_be_checked()
            page.click("#reset-confirm")
            expect(page.locator("#status")).to_contain_text("erased from the server")
            expect(page.locator("#picks li")).to_have_count(0)
            assert page.evaluate("localStorage.getItem('animerec.user')") is None
            assert page.request.get(f"{base}/users/{me['id']}", headers=auth).status == 404
            page.screenshot(path=str(shots / f"fan-after-start-over-{screen}.png"))
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)
