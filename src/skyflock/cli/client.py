"""The CLI's HTTP client: finds the server, makes the call, turns failures into exits.

The server is at `SKYFLOCK_URL`, else the local server's default address
(as in `manager.settings`: http://127.0.0.1:8642). Commands use `session()`:

    with session() as api:
        data = api.get("/api/jobs", params={...})

A server that does not answer prints one line ("cannot reach the skyflock
server at URL: start it with `skyflock server`") and exits 2; a request the
server refuses (its JSON `{"error": ...}`) prints the message and exits 1.
Neighbours: every `cli/*_cmd.py` that talks to the server; `api/` answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import httpx
import typer

ENV_URL = "SKYFLOCK_URL"
# The local server's address and state directory: the same values as
# `manager.settings` (a test keeps them equal). They are repeated here because
# importing the manager package loads the store and SQLAlchemy, which would
# add seconds to every client command.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8642
DEFAULT_DATA_DIR = ".skyflock"
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


def fail(message: str, code: int = EXIT_USER) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    text = response.text.strip()
    return text[:300] or f"the server answered {response.status_code}"


class Client:
    """A thin JSON client over httpx."""

    def __init__(self, url: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = (url or server_url()).rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        try:
            response = self._http.request(
                method, path, params=_clean(params), json=body if body is not None else None
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(self.url) from exc
        if response.status_code >= 400:
            raise Refused(response.status_code, _error_text(response))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def events(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, str]]:
        """A Server-Sent Events stream as (event, data) pairs; ends with the stream."""
        try:
            with self._http.stream("GET", path, params=_clean(params), timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise Refused(response.status_code, _error_text(response))
                event, data = "message", list[str]()
                for line in response.iter_lines():
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
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(self.url) from exc

    def answers(self) -> bool:
        """Whether a skyflock server answers /healthz at this address."""
        try:
            response = self._http.get("/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        try:
            return response.status_code == 200 and response.json().get("status") == "ok"
        except ValueError:
            return False


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != [] and v != ""}


@contextmanager
def session(url: str | None = None) -> Iterator[Client]:
    """A client whose failures become one message and an exit code."""
    client = Client(url)
    try:
        yield client
    except Unreachable as exc:
        fail(
            f"cannot reach the skyflock server at {exc.url}: start it with `skyflock server`",
            EXIT_UNREACHABLE,
        )
    except Refused as exc:
        fail(exc.message, EXIT_USER)
    except httpx.HTTPError as exc:
        fail(f"talking to the skyflock server at {client.url}: {exc}", EXIT_UNREACHABLE)
    finally:
        client.close()


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2)
