"""A real headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no
websocket library): load a page at a given window width, evaluate JavaScript in it, press real keys, take a
screenshot. Debian's `chromium` package (`make browser`) is all it needs."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("RAC_BENCH_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (RAC_BENCH_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("chromium is not installed (`make browser` installs Debian's package)")
    return path


def chromium_command(path, profile) -> list[str]:
    return [
        path,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


def axe_script() -> str:
    """axe-core's axe.min.js as `make axe` installs it into the venv (RAC_BENCH_AXE may name another copy)."""
    path = Path(os.environ.get("RAC_BENCH_AXE") or Path(sys.prefix) / "axe/node_modules/axe-core/axe.min.js")
    if not path.is_file():
        if os.environ.get("RAC_BENCH_REQUIRE_BROWSER"):
            pytest.fail(f"axe-core is required (RAC_BENCH_REQUIRE_BROWSER is set) but {path} is missing (`make axe`)")
        pytest.skip("axe-core is not installed (`make axe` installs it into the venv)")
    return path.read_text(encoding="utf-8")


AXE_RUN = """axe.run(document, {resultTypes: ["violations"]}).then((found) => found.violations.map((v) => ({
  id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))})))"""


class Browser:
    """One browser with one page; `with Browser(profile) as page: page.open(url, width)`."""

    def __init__(self, profile, timeout: float = 60.0):
        self.profile, self.timeout = profile, timeout
        self._id, self._buffer, self._events = 0, b"", []

    def __enter__(self) -> Browser:
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()

        def pipes_as_fds_3_and_4():  # where --remote-debugging-pipe expects them (via copies: a pipe may be 3 already)
            inbound, outbound = os.dup(to_browser_read), os.dup(from_browser_write)
            for source, target in ((inbound, 3), (outbound, 4)):
                os.dup2(source, target)
                os.set_inheritable(target, True)

        self._process = subprocess.Popen(
            [*chromium_command(chromium_path(), self.profile), "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),  # kept open by the child after the function below has put the pipes there
            preexec_fn=pipes_as_fds_3_and_4,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        return self

    def __exit__(self, *exc) -> None:
        self._process.kill()
        self._process.wait(timeout=30)
        os.close(self._write)
        os.close(self._read)

    def _send(self, message: dict) -> None:
        os.write(self._write, json.dumps(message).encode() + b"\0")

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no answer from chromium in {self.timeout:g} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        while True:
            answer = self._receive()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def call(self, method: str, params: dict | None = None) -> dict:
        return self._call(method, params, self._session)

    def _wait_for(self, event: str) -> None:
        while True:
            if any(e.get("method") == event for e in self._events):
                self._events = [e for e in self._events if e.get("method") != event]
                return
            self._events.append(self._receive())

    def open(self, url: str, width: int, height: int = 1000) -> None:
        """Load `url` in a window `width` CSS pixels wide (a phone's, with its viewport rules, below 500)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
        )
        for address in ("about:blank", url):  # via a blank page: a change of #fragment alone fires no load event
            self._events.clear()
            self.call("Page.navigate", {"url": address})
            self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str, await_promise: bool = False):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": await_promise}
        result = self.call("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def color_scheme(self, scheme: str) -> None:
        """Emulate `prefers-color-scheme: light` or `dark` for the pages opened next."""
        self.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def accessibility_violations(self, script: str) -> list[dict]:
        """axe-core's violations on the open page (every rule axe runs by default), as {id, impact, nodes}."""
        self.evaluate(script)
        return self.evaluate(AXE_RUN, await_promise=True)

    def press(self, key: str, code: int, text: str = "") -> None:
        """A real key press, as the keyboard sends it (trusted events, unlike a script's)."""
        name = {" ": "Space"}.get(key, key)
        down = {"type": "keyDown", "key": key, "code": name, "windowsVirtualKeyCode": code}
        self.call("Input.dispatchKeyEvent", {**down, "text": text} if text else down)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": name, "windowsVirtualKeyCode": code})

    def screenshot(self, path, full_page: bool = True) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page})["data"]
        path.write_bytes(base64.b64decode(data))
