"""Browser-test plumbing: a real uvicorn server on a free loopback port, and headless Debian
Chromium driven by Selenium through the system chromedriver (nothing is downloaded)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import allure
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def browser_available() -> bool:
    return CHROMIUM.is_file() and CHROMEDRIVER.is_file()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium at the vending PC's 1366×768."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1366,768", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    """Attach a screenshot of the current page to the Allure report, after checking that the
    page fits the vending PC's screen width (no sideways scrolling at 1366 pixels)."""
    allure.attach(driver.get_screenshot_as_png(), name=name,
                  attachment_type=allure.attachment_type.PNG)
    page, window = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert page <= window, f"page {name!r} is {page} px wide, wider than the {window} px window"


def text(driver: WebDriver) -> str:
    """The page's visible text; read again if the page was replaced between finding its body
    and reading it (a navigation still landing, as a wait loop polling a form's result sees)."""
    for _ in range(20):
        try:
            return driver.find_element(By.TAG_NAME, "body").text
        except StaleElementReferenceException:
            continue
    return driver.find_element(By.TAG_NAME, "body").text


def fetch(driver: WebDriver, url: str) -> dict[str, object]:
    """GET ``url`` from inside the page (with the browser's session cookie): status, type,
    and the first bytes as text — how the tests check a PDF the page links to."""
    return driver.execute_async_script(  # type: ignore[no-any-return]
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(async r => {"
        "  const b = new Uint8Array(await r.arrayBuffer());"
        "  done({status: r.status, type: r.headers.get('content-type'),"
        "        head: String.fromCharCode(...b.slice(0, 8)), size: b.length,"
        "        body: new TextDecoder('latin1').decode(b)});"
        "}).catch(e => done({status: 0, type: String(e)}));", url)
