"""Browser tests: Debian's Chromium driven by Playwright against a live server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("COPROD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-gpu", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_app(app, tmp_path):
    """An app on the test database whose emailed links point at the live server."""
    from tests.conftest import make_app

    port = _free_port()
    live = make_app(tmp_path / "live-instance", BASE_URL=f"http://127.0.0.1:{port}",
                    WTF_CSRF_ENABLED=True)
    live.config["LIVE_PORT"] = port
    return live


@pytest.fixture
def live_server(live_app):
    """Serve live_app in a thread for the length of one test."""
    server = make_server("127.0.0.1", live_app.config["LIVE_PORT"], live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{live_app.config['LIVE_PORT']}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
