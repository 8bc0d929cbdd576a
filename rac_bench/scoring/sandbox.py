"""Run answer checks in a separate worker process with a time limit enforced from outside.

Model output is untrusted: a crafted answer such as 10^{10^{10}} can make a symbolic checker run for hours,
and math-verify's own signal-based timeout does not work off the main thread. The worker is killed when a
check overruns and a fresh one is started, so a pathological input costs at most the limit (the check then
counts as not equivalent). Start-up (importing sympy) is waited for separately and never counted.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 5.0
STARTUP_LIMIT = 120.0
_READY = "ready"


def _serve(connection, warmup: Callable[[], None]) -> None:
    warmup()
    connection.send(_READY)
    while True:
        request = connection.recv()
        if request is None:
            return
        function, arguments = request
        try:
            connection.send((True, function(*arguments)))
        except Exception as error:  # an unparseable answer is an answer that is not equivalent
            connection.send((False, f"{type(error).__name__}: {error}"))


class SandboxedChecker:
    """Calls module-level functions in a worker process; `call` returns `default` on timeout or error.

    After a timeout the worker is killed and a new one is spawned at once, so it imports while the caller
    goes on; the next call waits for it to be ready, outside the time limit. `last_check_seconds` is how long
    the last check itself took (never more than the limit plus the poll's wake-up)."""

    def __init__(self, warmup: Callable[[], None], time_limit: float = DEFAULT_TIME_LIMIT):
        self.warmup = warmup
        self.time_limit = time_limit
        self._process = None
        self._connection = None
        self._ready = False
        self._lock = threading.Lock()
        self.timeouts = 0
        self.last_check_seconds = 0.0

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.warmup), daemon=True)
        self._process.start()
        child.close()
        self._connection, self._ready = parent, False

    def _await_ready(self) -> None:
        if self._ready:
            return
        try:
            ready = self._connection.poll(STARTUP_LIMIT) and self._connection.recv() == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._stop()
            raise RuntimeError("the answer-checking worker did not start")
        self._ready = True

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        self._process = self._connection = None
        self._ready = False

    def call(self, function: Callable, *arguments, default=False):
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._spawn()
            self._await_ready()
            started = time.perf_counter()
            try:
                self._connection.send((function, arguments))
                answered = self._connection.poll(self.time_limit)
                self.last_check_seconds = time.perf_counter() - started
                if not answered:
                    self.timeouts += 1
                    log.warning("answer check exceeded %.1fs; counted as not equivalent", self.time_limit)
                    self._stop()
                    self._spawn()
                    return default
                succeeded, value = self._connection.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._stop()
                return default
            return value if succeeded else default

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.send(None)
                except OSError:
                    pass
            self._stop()
