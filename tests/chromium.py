"""Headless Chromium for the tests, driven over the DevTools protocol on a pipe (no websocket package needed).

with Chromium(folder) as browser:
    page = browser.new_page()
    page.navigate("http://127.0.0.1:7474/browser/")
    page.wait_for("document.readyState === 'complete'")
    page.screenshot(folder / "shot.png")
"""

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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
)


class Chromium:
    """A Chromium started with --remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, folder: Path, window: tuple[int, int] = (1400, 1000)):
        if CHROMIUM is None:
            raise FileNotFoundError("Chromium is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Move the browser's ends above 10 so dup2 onto 3 and 4 cannot clobber either.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire():
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        args = [
            CHROMIUM,
            *FLAGS,
            f"--window-size={window[0]},{window[1]}",
            f"--user-data-dir={folder / 'profile'}",
            "--remote-debugging-pipe",
        ]
        self._log = open(folder / "chromium.log", "wb")  # noqa: SIM115 (closed in close(), with the process)
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, preexec_fn=wire, pass_fds=(3, 4)
        )
        os.close(child_r)
        os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def new_page(self, domains: tuple[str, ...] = ("Runtime", "Log", "Network", "Page")) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in domains:
            self.send(f"{domain}.enable", session=session)
        return Page(self, session)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()

    def page_errors(self) -> list[dict]:
        """Console errors and assertions, uncaught exceptions and error log entries seen so far."""
        return [
            e["params"]
            for e in self.events
            if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
            or e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        ]

    def requested_urls(self) -> list[str]:
        """Every URL the pages asked for so far, in order."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript, wait for a condition, type, click, take screenshots."""

    def __init__(self, browser: Chromium, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": await_promise}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60, poll: float = 0.2):
        """Poll ``expression`` until it is truthy and return its value; TimeoutError names ``what``.

        The timeout only guards against a hang; it is not a speed check.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what}")
            time.sleep(poll)

    def click(self, selector: str, timeout: float = 30) -> None:
        """Click the centre of the first element matching ``selector`` with real mouse events.

        Waits until the element has stopped moving (frames slide in and banners push
        them down), so the click lands where the element is.
        """
        self.click_in("document", selector, timeout)

    def click_in(self, within: str, selector: str, timeout: float = 30) -> None:
        """Click the first element matching ``selector`` inside the element the JavaScript ``within`` gives."""
        where = (
            f"(() => {{ const e = ({within}).querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        deadline = time.monotonic() + timeout
        box, previous = self.evaluate(where), None
        while box is None or box != previous:
            if time.monotonic() > deadline:
                raise LookupError(f"no settled element matches {selector}")
            time.sleep(0.25)
            box, previous = self.evaluate(where), box
        self.click_at(*box)

    def click_at(self, x: float, y: float) -> None:
        """Move the mouse to (x, y) in CSS pixels of the viewport, press and release the left button."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def move_to(self, x: float, y: float) -> None:
        """Move the mouse to (x, y) without pressing a button."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def focus(self, selector: str) -> None:
        if not self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            " e.focus(); return true; })()"
        ):
            raise LookupError(f"no element matches {selector}")

    def insert_text(self, text: str) -> None:
        """Type ``text`` into the focused element as one input event."""
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        """Press and release one key (modifiers: 2 = Ctrl, 4 = Meta, 8 = Shift)."""
        base = {"key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}
        self.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", **base})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def screenshot(self, path: Path) -> bytes:
        shot = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(shot)
        return shot
