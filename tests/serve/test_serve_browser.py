"""End to end in a real headless browser (Debian's chromium, driven by Playwright): the page on a
phone-width screen searches "bebop", picks 3 titles, shows >= 5 recommendations with reasons,
saves a rating from a card and refreshes the list, with the user's token kept in localStorage and
no content-security-policy violation; ``/docs`` and ``/redoc`` render with every request outside
the server refused (offline). The screenshot goes to ``$ANIMEREC_ARTIFACTS`` (default: the
test's tmp dir), never into the repo.

The test fails (never skips) when chromium is missing: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_ENV = "ANIMEREC_ARTIFACTS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(
    sample_workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """uvicorn on loopback serving the real sample with ease; yields (base url, db url)."""
    from animerec.serve.app import create_app

    db_url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'feedback.db'}"
    app = create_app(sample_workspace, db_url=db_url, models=["ease"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # start-up loads (or fits) the model
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", db_url
    server.should_exit = True
    thread.join(timeout=30)


def _artifacts_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get(ARTIFACTS_ENV) or tmp_path / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_fan_picks_titles_gets_recommendations_and_rates_one(live_server, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver", pytrace=False
        )
    from playwright.sync_api import expect, sync_playwright

    from animerec.serve.db import FeedbackStore

    base, db_url = live_server
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 390, "height": 844},  # a phone
        )
        try:
            page = ctx.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(base + "/")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")

            picked = []
            for i in range(3):
                page.fill("#search", "bebop")
                option = page.locator("li.suggestion:not(.rated)").first
                expect(option).to_contain_text("Bebop")
                picked.append(int(option.get_attribute("data-anime-id")))
                option.locator("button.like").click()
                expect(page.locator("#picks li")).to_have_count(i + 1)
            assert picked[0] == 1 and len(set(picked)) == 3  # Cowboy Bebop first

            cards = page.locator("article.card")
            expect(cards.nth(4)).to_be_visible()  # >= 5 recommendations
            assert cards.count() >= 5
            reasons = page.locator("article.card .reason").all_inner_texts()
            assert all(r.strip() for r in reasons) and any("Bebop" in r for r in reasons)
            shown = [int(x) for x in cards.evaluate_all("cs => cs.map(c => c.dataset.animeId)")]
            assert not set(picked) & set(shown)  # what you rated is not recommended back

            first = cards.first
            rated_id = int(first.get_attribute("data-anime-id"))
            first.locator("button.thumb-up").click()
            expect(page.locator("#picks li")).to_have_count(4)  # saved, list refreshed
            expect(page.locator(f'article.card[data-anime-id="{rated_id}"]')).to_have_count(0)
            expect(cards.nth(4)).to_be_visible()

            saved = page.evaluate("JSON.parse(localStorage.getItem('animerec.user'))")
            assert isinstance(saved["id"], str) and len(saved["token"]) >= 43
            assert not [m for m in console if "Content Security Policy" in m], console

            # the layout fits a phone: nothing wider than the viewport
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            shot = _artifacts_dir(tmp_path) / "serve-e2e.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)

    store = FeedbackStore(db_url)
    try:
        user = 1  # the page created exactly one user
        assert store.count() == (1, 4)
        assert {(r.anime_id, r.rating) for r in store.ratings(user)} == {
            *((a, 10) for a in picked),
            (rated_id, 10),
        }
    finally:
        store.close()


def test_docs_render_offline_under_the_csp(live_server, tmp_path: Path) -> None:
    """Swagger UI and ReDoc come from the server itself: with every other host refused, both
    render the API, and the CSP blocks nothing they need."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver", pytrace=False
        )
    from playwright.sync_api import expect, sync_playwright

    base, _ = live_server
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            ctx.route("**/*", only_local)
            page = ctx.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(base + "/docs")
            ops = page.locator(".opblock-summary-path")
            expect(ops.first).to_be_visible(timeout=30_000)
            paths = set(ops.all_inner_texts())
            assert {"/recommend", "/users", "/users/{user_id}"} <= {p.strip() for p in paths}
            expect(page.locator("button.authorize")).to_be_visible()  # the bearer scheme
            page.goto(base + "/redoc")
            expect(page.get_by_text("Fuzzy title search").first).to_be_attached(timeout=30_000)
            # What the CSP blocks is only ReDoc's "API docs by Redocly" badge, an image it would
            # fetch from a CDN: never a script or a style the docs need.
            blocked = [m for m in console if "Content Security Policy" in m]
            assert all("img-src" in m and "redoc" in m.lower() for m in blocked), blocked
            assert outside == []
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)
