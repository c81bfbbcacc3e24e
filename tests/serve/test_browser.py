"""The page in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium):
upload a Kodak24 image, move the denoise slider three times and the grain amount twice, check
that the view changes each time, and that the downloads equal the command line's output bit for
bit; bad uploads show a message and leave the server serving."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import cli, shared_images
from serve_tools import bad_uploads

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMIUM).exists() and Path(DRIVER).exists(), (
        "chromium and chromedriver are missing: `make test` installs them (Debian packages "
        "chromium, chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(condition, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(driver) -> int:
    return int(driver.find_element("id", "after").get_attribute("data-count") or 0)


def _move(driver, slider: str, value: float) -> None:
    """Move a range input as a drag does: set its value, fire 'input'."""
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('input', {bubbles: true}));",
        slider,
        str(value),
    )


def _new_view(driver, before: int, digest_before: str) -> str:
    _wait(lambda: _count(driver) > before, what="a new view")
    digest = driver.find_element("id", "after").get_attribute("data-digest")
    assert digest and digest != digest_before, "the view did not change"
    return digest


def _download(driver, downloads: Path) -> np.ndarray:
    for f in downloads.iterdir():
        f.unlink()
    driver.find_element("id", "download").click()
    path = _wait(
        lambda: next((f for f in downloads.glob("*.png")), None), what="the downloaded file"
    )
    _wait(lambda: path.stat().st_size > 0 and not list(downloads.glob("*.crdownload")))
    return np.asarray(Image.open(path))


def _cli_output(tmp_path: Path, src: Path, *argv: str) -> np.ndarray:
    out = tmp_path / "cli.png"
    words = list(argv)
    i = 2 if words[0] == "grain" else 1
    subprocess.run(cli(*words[:i], str(src), str(out), *words[i:]), check=True)
    return np.asarray(Image.open(out))


def test_sliders_views_and_downloads_equal_the_cli(server, browser, downloads, tmp_path):
    from selenium.webdriver.support.ui import Select

    src = shared_images("test/color/Kodak24")[6]
    browser.get(server)
    browser.find_element("id", "file").send_keys(str(src))
    _wait(lambda: _count(browser) >= 1, what="the first view")
    digest = browser.find_element("id", "after").get_attribute("data-digest")
    for sigma in (10, 30, 55):
        n = _count(browser)
        _move(browser, "sigma", sigma)
        digest = _new_view(browser, n, digest)
    got = _download(browser, downloads)
    assert np.array_equal(got, _cli_output(tmp_path, src, "denoise", "--sigma", "55"))

    n = _count(browser)
    Select(browser.find_element("id", "task")).select_by_value("grain")
    digest = _new_view(browser, n, digest)
    for amount in (0.3, 0.8):
        n = _count(browser)
        _move(browser, "amount", amount)
        digest = _new_view(browser, n, digest)
    got = _download(browser, downloads)
    expected = _cli_output(
        tmp_path, src, "grain", "render", "--engine", "learned", "--radius", "0.5", "--blur",
        "0.8", "--amount", "0.8", "--seed", "0",
    )  # fmt: skip
    assert np.array_equal(got, expected)


def test_bad_uploads_show_a_message_and_the_server_keeps_serving(server, browser, tmp_path):
    browser.get(server)
    for name, (data, needle) in bad_uploads().items():
        path = tmp_path / name
        path.write_bytes(data)
        browser.find_element("id", "file").send_keys(str(path))
        _wait(
            lambda n=needle: (
                n in browser.find_element("id", "error").text
                or n in browser.find_element("id", "note").text
            ),
            what=f"the message for {name}",
        )
    # still serving: a good image gives a view
    before = _count(browser)
    browser.find_element("id", "file").send_keys(str(shared_images("test/color/Kodak24")[1]))
    _wait(lambda: _count(browser) > before, what="a view after the bad uploads")
