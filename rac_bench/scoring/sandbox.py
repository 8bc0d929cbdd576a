"""Run answer checks in a separate worker process, with a time limit enforced from outside and a memory limit
set inside.

Model output is untrusted: a crafted answer such as 10^{10^{10}} can make a symbolic checker run for hours or
fill memory, and math-verify's own signal-based timeout does not work off the main thread. The worker is
`python -m <module>`, a fresh interpreter that never imports the caller's script (so callers need no
`if __name__ == "__main__":` guard). It caps its own address space (RLIMIT_AS) once warm, so an allocation
past the cap fails with MemoryError; it is killed when a check overruns the time limit, and a fresh one is
started, so a pathological input costs at most the limit (the check then counts as not equivalent).
Start-up (importing sympy) is waited for separately and never counted.

The protocol is one JSON line per request (the arguments) and per reply ({"value": ...} or {"error": ...}).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 5.0
DEFAULT_MEMORY_LIMIT = 512 * 2**20  # bytes of address space a check may add to the warm worker's
STARTUP_LIMIT = 120.0
_READY = b"ready"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def serve(function: Callable, warm_up: Callable[[], None]) -> None:
    """The worker's loop (run by `python -m <module> MEMORY_LIMIT`): call `function` on each request."""
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # whatever the checked code prints cannot corrupt the replies
    sys.stdout = sys.stderr
    warm_up()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space_bytes() + int(sys.argv[1]), hard))
    replies.write(_READY + b"\n")
    for line in sys.stdin.buffer:
        try:
            reply = {"value": function(*json.loads(line))}
        except Exception as error:  # noqa: BLE001 (an unparseable answer, or MemoryError: not equivalent)
            reply = {"error": f"{type(error).__name__}: {error}"[:500]}
        replies.write(json.dumps(reply).encode() + b"\n")


class SandboxedChecker:
    """Calls the function a worker module serves; `call` returns `default` on timeout, error or crash.

    After a timeout the worker is killed and a new one is started at once, so it imports while the caller
    goes on; the next call waits for it to be ready, outside the time limit. `last_check_seconds` is how long
    the last check took (never more than the limit plus the poll's wake-up); `seconds_in_calls` is the total
    time callers spent in `call`, start-ups included."""

    def __init__(self, module: str, time_limit: float = DEFAULT_TIME_LIMIT, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.module, self.time_limit, self.memory_limit = module, time_limit, memory_limit
        self._process: subprocess.Popen | None = None
        self._owner = os.getpid()
        self._pending = b""
        self._ready = False
        self._lock = threading.Lock()
        self.timeouts = 0
        self.last_check_seconds = 0.0
        self.seconds_in_calls = 0.0

    def _spawn(self) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, environment.get("PYTHONPATH")]))
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (the worker's stderr, read if it fails to start)
        command = [sys.executable, "-m", self.module, str(self.memory_limit)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, bufsize=0, env=environment
        )
        self._owner, self._pending, self._ready = os.getpid(), b"", False

    def _read_line(self, timeout: float) -> bytes | None:
        """The worker's next line, or None if it does not come within `timeout`; EOFError if it died."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._process.stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(self._process.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("the answer-checking worker exited")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def _error_tail(self) -> str:
        self._errors.seek(0)
        return self._errors.read()[-2000:].decode(errors="replace").strip()

    def _ensure_ready(self) -> None:
        if self._process is None or self._process.poll() is not None or self._owner != os.getpid():
            self._spawn()  # first use, a crash, or a forked copy of the caller: a worker of our own
        if self._ready:
            return
        try:
            ready = self._read_line(STARTUP_LIMIT) == _READY
        except EOFError:
            ready = False
        if not ready:
            errors = self._error_tail()
            self._stop()
            raise RuntimeError(f"the answer-checking worker ({self.module}) did not start: {errors}")
        self._ready = True

    def _stop(self) -> None:
        if self._process is not None and self._owner == os.getpid():
            self._process.kill()
            self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout, self._errors):
                stream.close()
        self._process, self._ready = None, False

    def _ask(self, arguments: tuple) -> bytes | None:
        """The reply line, or None on timeout (the worker is then replaced)."""
        request = json.dumps(arguments).encode() + b"\n"
        try:
            written = 0
            while written < len(request):
                written += os.write(self._process.stdin.fileno(), request[written:])
            reply = self._read_line(self.time_limit)
        except (OSError, EOFError):
            self._stop()
            return None
        if reply is None:
            self.timeouts += 1
            log.warning("answer check exceeded %.1fs; counted as not equivalent", self.time_limit)
            self._stop()
            self._spawn()
        return reply

    def call(self, *arguments, default=False):
        entered = time.perf_counter()
        with self._lock:
            self._ensure_ready()
            started = time.perf_counter()
            reply = self._ask(arguments)
            self.last_check_seconds = time.perf_counter() - started
            self.seconds_in_calls += time.perf_counter() - entered
            answer = {} if reply is None else json.loads(reply)
            if "error" in answer:  # an exception math-verify let through
                log.debug("answer check failed (%s); counted as not equivalent", answer["error"])
            return answer.get("value", default)

    def close(self) -> None:
        with self._lock:
            self._stop()
