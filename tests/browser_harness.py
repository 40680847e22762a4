"""Headless Chromium driven over the DevTools protocol, through its pipe transport
(--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4), so no WebSocket client
is needed. Chromium is kept on loopback: every background service is off and every host name but
the ones a test names resolves to nothing.

Waits poll for an event or a condition until a deadline that only a failure reaches; nothing
sleeps to pace a test."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 30
WIDTH, HEIGHT = 1280, 900


class BrowserError(Exception):
    pass


def chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    assert found, "chromium is not installed (Debian package chromium; scripts/install-test-packages.sh)"
    return found


def _flags(profile: Path) -> list[str]:
    return [
        "--headless=new",
        "--remote-debugging-pipe",
        f"--user-data-dir={profile}",
        "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        "--no-pings",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--ignore-certificate-errors",  # the gateway's certificate is from the test's own CA
        f"--window-size={WIDTH},{HEIGHT}",
        "about:blank",
    ]


class Browser:
    """One Chromium process and one page (a flat session on a target)."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and writes answers and events on fd 4: the child's ends
        # move there (from above 9, so the moves cannot overwrite one another).
        child_r, child_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        self._log = open(profile / "chromium.log", "wb")  # noqa: SIM115 (open while Chromium runs)
        self.process = subprocess.Popen(
            [chromium(), *_flags(profile)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(child_r, 3), os.dup2(child_w, 4)),
        )  # fmt: skip
        os.close(child_r)
        os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self.session: str | None = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self._viewport(HEIGHT)

    def _viewport(self, height: int) -> None:
        metrics = {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)

    # --- the protocol ----------------------------------------------------------------------------
    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited ({self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(i)
            answer = self._read(deadline)
            if "method" in answer:
                self._events.append(answer)

    # --- what a test does ------------------------------------------------------------------------
    def _loaded_after(self, action) -> None:
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        action()
        self.wait_event("Page.loadEventFired")

    def goto(self, url: str) -> None:
        def navigate() -> None:
            result = self.call("Page.navigate", {"url": url})
            if result.get("errorText"):
                raise BrowserError(f"{url}: {result['errorText']}")

        self._loaded_after(navigate)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def fill(self, selector: str, value: str) -> None:
        assert self.evaluate(f"!!document.querySelector({json.dumps(selector)})"), f"no {selector} on {self.url}"
        self.evaluate(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    def click(self, selector: str) -> None:
        """Click and wait for the page it leads to (a form's post, a link)."""
        assert self.evaluate(f"!!document.querySelector({json.dumps(selector)})"), f"no {selector} on {self.url}"
        self._loaded_after(lambda: self.evaluate(f"document.querySelector({json.dumps(selector)}).click()"))

    @property
    def url(self) -> str:
        return self.evaluate("document.location.href")

    @property
    def text(self) -> str:
        return self.evaluate("document.body.innerText")

    def cookies(self) -> list[dict]:
        return self.call("Network.getAllCookies").get("cookies", [])

    def screenshot(self) -> bytes:
        height = self.evaluate("document.documentElement.scrollHeight")
        self._viewport(max(HEIGHT, int(height)))
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.call("Browser.close", session=False)
        try:
            self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()
