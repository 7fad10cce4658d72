"""The CLI's HTTP client: finds the server, makes the call, turns failures into exits.

The server is at `SKYFLOCK_URL`, else the local server's default address
(`manager.settings`, now light to import: http://127.0.0.1:8642). Commands use `session()`:

    with session() as api:
        data = api.get("/api/jobs", params={...})

A server that does not answer prints one line ("cannot reach the skyflock
server at URL: start it with `skyflock server`") and exits 2; a request the
server refuses (its JSON `{"error": ...}`) prints the message and exits 1.

It is written on the standard library's `http.client` rather than httpx: every
client command pays for its imports on each call, and httpx alone costs more
than everything else a command loads. One keep-alive connection per `Client`.
Neighbours: every `cli/*_cmd.py` that talks to the server; `api/` answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlencode, urlsplit

import typer

from skyflock.manager.settings import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    import http.client

__all__ = ["DEFAULT_DATA_DIR", "DEFAULT_HOST", "DEFAULT_PORT", "Client", "session"]

ENV_URL = "SKYFLOCK_URL"
EXIT_USER = 1
"""The server refused the request, or the input is wrong."""
EXIT_UNREACHABLE = 2
"""No server answered (also typer's exit code for a usage mistake)."""


def server_url() -> str:
    url = os.environ.get(ENV_URL, "").strip() or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    return url.rstrip("/")


class Unreachable(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class Refused(Exception):
    """The server answered with an error: `message` is its `error` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TransportError(Exception):
    """The connection broke after the server had answered it (not a refusal)."""


def fail(message: str, code: int = EXIT_USER) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _error_text(status: int, content_type: str, raw: bytes) -> str:
    body: object = None
    if content_type.startswith("application/json"):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    text = raw.decode("utf-8", "replace").strip()
    return text[:300] or f"the server answered {status}"


def _query(params: Mapping[str, Any] | None) -> str:
    """`?a=1&ids=1.0&ids=1.1`: lists repeat their key, None and empty values are left out."""
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value == [] or value == "":
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((key, str(item)))
    return "?" + urlencode(pairs) if pairs else ""


class Client:
    """A thin JSON client over one HTTP/1.1 keep-alive connection."""

    def __init__(self, url: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = (url or server_url()).rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unreachable(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        import http.client  # here, not at the top: `skyflock --help` never talks HTTP
        import select

        conn = self._conn
        if conn is not None and conn.sock is not None:
            # a kept-alive connection the server has since closed reads as ready (EOF)
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                self.close()
                conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=timeout)
            try:
                conn.connect()
            except OSError as exc:  # refused, no route, no such host, connect timeout
                conn.close()
                raise Unreachable(self.url) from exc
            self._conn = conn
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        timeout: float | None,
    ) -> http.client.HTTPResponse:
        target = quote(self._prefix + path, safe="/:@!$&'()*+,;=-._~") + _query(params)
        import http.client

        headers = {"Accept": "application/json"}
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        reused = self._conn is not None
        conn = self._connection(timeout)
        try:
            try:
                conn.request(method, target, body=payload, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                if payload is None:
                    raise
                # the server may answer (413: body too large) and close before it
                # has read the whole body; its answer is then waiting to be read
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            closed_by_peer = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
            if reused and method == "GET" and isinstance(exc, closed_by_peer):
                # the server closed the kept-alive connection as we reused it: once more
                return self._send(method, path, params, body, timeout)
            raise TransportError(f"{method} {path}: {exc or type(exc).__name__}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        import http.client

        response = self._send(method, path, params, body, self._timeout)
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        content_type = response.getheader("Content-Type", "")
        if response.will_close:
            self.close()
        if response.status >= 400:
            raise Refused(response.status, _error_text(response.status, content_type, raw))
        if content_type.startswith("application/json"):
            return json.loads(raw)
        return raw.decode("utf-8", "replace")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def events(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, str]]:
        """A Server-Sent Events stream as (event, data) pairs; ends with the stream."""
        import http.client

        response = self._send("GET", path, params, None, None)
        try:
            if response.status >= 400:
                raw = response.read()
                content_type = response.getheader("Content-Type", "")
                raise Refused(response.status, _error_text(response.status, content_type, raw))
            event, data = "message", list[str]()
            while True:
                try:
                    raw_line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise TransportError(f"GET {path}: {exc or type(exc).__name__}") from exc
                if not raw_line:
                    break
                line = raw_line.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        yield event, "\n".join(data)
                    elif event != "message":
                        yield event, ""
                    event, data = "message", list[str]()
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    value = line[5:]
                    data.append(value[1:] if value.startswith(" ") else value)
        finally:
            # a stream is not read to its end when the caller stops early
            self.close()

    def answers(self) -> bool:
        """Whether a skyflock server answers /healthz at this address."""
        import http.client

        try:
            response = self._send("GET", "/healthz", None, None, 2.0)
            raw = response.read()
        except (Unreachable, TransportError, OSError, http.client.HTTPException):
            self.close()
            return False
        if response.will_close:
            self.close()
        try:
            return response.status == 200 and json.loads(raw).get("status") == "ok"
        except (ValueError, AttributeError):
            return False


@contextmanager
def session(url: str | None = None) -> Iterator[Client]:
    """A client whose failures become one message and an exit code."""
    try:
        client = Client(url)
    except Unreachable as exc:
        fail(f"{exc.url}: not an http:// or https:// address ({ENV_URL})", EXIT_UNREACHABLE)
    try:
        yield client
    except Unreachable as exc:
        fail(
            f"cannot reach the skyflock server at {exc.url}: start it with `skyflock server`",
            EXIT_UNREACHABLE,
        )
    except Refused as exc:
        fail(exc.message, EXIT_USER)
    except TransportError as exc:
        fail(f"talking to the skyflock server at {client.url}: {exc}", EXIT_UNREACHABLE)
    finally:
        client.close()


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2)
