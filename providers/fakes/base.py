"""A tiny threaded HTTP server to fake a provider API on 127.0.0.1.

Each provider's fake subclasses ``FakeProvider`` and registers routes with ``@route(METHOD, regex)``; handlers
get a ``FakeRequest`` and return ``(status, headers, body)``. State lives on the fake instance (thread-safe
with ``self.lock``). ``latency`` adds a fixed delay per request (benchmarks use 50 ms). Nagle is disabled on
the handler, or every response waits ~40 ms for a delayed ACK and benchmarks lie.

    fake = JojkaFake(latency=0.0).start()   # fake.base_url -> "http://127.0.0.1:PORT"
    ...
    fake.stop()
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], bytes | str | dict | list]


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match | None = None
    params: dict[str, str] = field(default_factory=dict)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def form1(self) -> dict[str, str]:
        """Form body and query merged, first value of each key."""
        merged = {k: v[0] for k, v in self.query.items()}
        merged.update({k: v[0] for k, v in self.form().items()})
        return merged

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str = "") -> str:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return default


def route(method: str, pattern: str):
    def deco(fn):
        fn._fake_route = (method.upper(), re.compile(pattern))
        return fn

    return deco


class FakeProvider:
    """Subclass, add ``@route`` methods; ``start()`` serves them on a free port in a daemon thread."""

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1", port: int = 0):
        self.latency = latency
        self.lock = threading.RLock()
        self.requests: list[FakeRequest] = []
        self.fail_next: list[Response] = []  # canned answers served before the normal routes
        self._routes: list[tuple[str, re.Pattern, Callable]] = []
        for name in dir(type(self)):
            # look the route up on the class: getattr(self, …) would evaluate properties such as base_url
            # before the server exists
            spec = getattr(getattr(type(self), name, None), "_fake_route", None)
            if spec:
                self._routes.append((spec[0], spec[1], getattr(self, name)))
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    # --------------------------------------------------------------- dispatch
    def dispatch(self, req: FakeRequest) -> Response:
        with self.lock:
            self.requests.append(req)
            if self.fail_next:
                return self.fail_next.pop(0)
        for method, pattern, fn in self._routes:
            if method != req.method:
                continue
            m = pattern.fullmatch(req.path)
            if m:
                req.match = m
                req.params = m.groupdict()
                return fn(req)
        return 404, {"Content-Type": "application/json"}, {"error": f"no route for {req.method} {req.path}"}

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    body=body,
                )
                if fake.latency:
                    time.sleep(fake.latency)
                try:
                    status, headers, payload = fake.dispatch(req)
                except Exception as exc:  # a bug in a fake must be visible, not hang the client
                    status, headers, payload = 500, {"Content-Type": "text/plain"}, f"fake error: {exc!r}"
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format, *args):  # quiet
                return

        return Handler
