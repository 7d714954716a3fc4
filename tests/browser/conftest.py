"""Real-browser tests: Selenium driving Debian's headless Chromium against pytest-django's live server.

One browser for the whole session (starting it is most of the cost). Its fake camera plays
the file `camera.y4m` in the artifacts directory, which each camera test rewrites with the
QR code it wants the camera to see. Screenshots and the counter's timings go to
$TMPDIR/backpack-browser-artifacts/ (the system's temporary directory when TMPDIR is unset),
printed at the end of the run.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.browser.fake_camera import write_qr_video
from tests.factories import PASSWORD

ARTIFACTS = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "backpack-browser-artifacts"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = (
    "apt-get install chromium chromium-driver (scripts/ensure-build-deps.sh does it, as root, in `make test`)"
)

_timings: dict[str, list[float]] = {}
_started = {"at": None}


def _find(names) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def camera_file(artifacts) -> Path:
    path = artifacts / "camera.y4m"
    write_qr_video(path, None)
    return path


@pytest.fixture(scope="session")
def browser(artifacts, camera_file):
    chromium, chromedriver = _find(CHROMIUM_NAMES), _find(("chromedriver",))
    if not chromium or not chromedriver:
        pytest.skip(f"Chromium or chromedriver not found on PATH: {INSTALL_HINT}")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (requirements-dev.txt)")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        # The camera: allowed without a prompt, and fed the file the camera tests write.
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}",
    ):
        options.add_argument(flag)
    started = time.perf_counter()
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))
    _started["at"] = time.perf_counter() - started
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, live_server):
    """The browser at the live server: page.open(path), page.wait_for(css), page.log_in(user)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    class Page:
        driver = browser
        url = live_server.url

        def open(self, path: str) -> None:
            browser.get(f"{live_server.url}{path}")

        def wait_for(self, css: str, *, timeout: float = 10):
            return WebDriverWait(browser, timeout).until(
                expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
            )

        def wait_until(self, condition, *, timeout: float = 10):
            return WebDriverWait(browser, timeout).until(lambda driver: condition())

        def find(self, css: str):
            return browser.find_element(By.CSS_SELECTOR, css)

        def log_in(self, user) -> None:
            """Through the admin's login form, as a person would."""
            self.open("/admin/login/")
            self.find("#id_username").send_keys(user.username)
            self.find("#id_password").send_keys(PASSWORD)
            self.find("input[type=submit]").click()
            self.wait_for("#user-tools")

    browser.delete_all_cookies()
    browser.set_window_size(1280, 900)
    return Page()


@pytest.fixture
def timing():
    """timing(name, seconds): kept and printed with the run's summary."""

    def record(name: str, seconds: float) -> None:
        _timings.setdefault(name, []).append(seconds)

    return record


def pytest_terminal_summary(terminalreporter):
    if _started["at"] is None:
        return
    terminalreporter.section("browser tests")
    terminalreporter.write_line(f"Chromium started in {_started['at']:.2f} s")
    for name, seconds in sorted(_timings.items()):
        shown = ", ".join(f"{s * 1000:.0f} ms" for s in seconds)
        terminalreporter.write_line(f"{name}: {shown}")
    terminalreporter.write_line(f"screenshots and the camera video: {ARTIFACTS}")
