"""The API's interactive docs work on a lab network with no internet: Swagger UI and ReDoc
come from files installed with rig (rig[server]), and the browser fetches nothing elsewhere."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from rig.billing import open_billing
from rig.billing.api.app import create_app
from tests.station.console.browser import browser_available, chromium, serve

pytestmark = pytest.mark.skipif(not browser_available(), reason="needs Debian chromium")


def _wait_for(driver, css: str, timeout_s: float = 30.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = driver.find_elements(By.CSS_SELECTOR, css)
        if found and found[0].text.strip():
            return str(found[0].text)
        time.sleep(0.1)
    raise AssertionError(f"{css} never rendered on {driver.current_url}")


@pytest.mark.parametrize(("path", "title_css"), [
    ("/docs", ".swagger-ui .info .title"),
    ("/redoc", "redoc h1, [role=main] h1"),
])
def test_api_docs_render_from_the_server_alone(tmp_path, path: str, title_css: str) -> None:
    with open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}") as centre, \
            serve(create_app(centre)) as url, chromium() as driver:
        driver.get(url + path)
        assert "rig billing centre" in _wait_for(driver, title_css)
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".map(e => [e.initiatorType, e.name])")
        code = [u for kind, u in fetched if kind in ("script", "link", "css", "fetch",
                                                      "xmlhttprequest")]
        assert any(u.endswith(".js") for u in code), fetched
        # Everything the page runs or styles itself with comes from this server. (ReDoc's
        # footer links a logo image on its vendor's site: an image, which the page's policy
        # blocks, and the docs render without it.)
        elsewhere = [u for u in code if not u.startswith(url)]
        assert elsewhere == [], f"{path} loaded code from elsewhere: {elsewhere}"
