"""The one HTTP client of the toolkit: every network call (chart indexes, GitHub, the Kubernetes API,
Grafana, the sign-off's health check, ``outdated --refresh``) goes through :class:`Client`.

What it guarantees, whatever the server does:

- **A whole-request deadline.** ``timeout_seconds`` bounds connecting, TLS, the request, the
  status line and headers, and the body, together (``requests``' own timeout is per socket read,
  so a server sending one byte a second never trips it). A watchdog shuts the connection's socket
  down when the deadline passes, which ends a read blocked anywhere; the body is read in chunks
  and the deadline checked between them. Name resolution is the system resolver's and is bounded
  by its own timeout.
- **Redirects stay on the origin.** A redirect is followed (at most :data:`MAX_REDIRECTS`, GET
  and HEAD only) when it keeps the scheme, host and port; one that leaves HTTPS or the origin,
  or redirects another method, is refused with the target in the message. A client made with
  ``follow_redirects=False`` gets the 3xx answer back instead.
- **A size cap.** An answer larger than ``max_bytes`` (announced or counted as it arrives,
  decompressed) is refused.
- **One-line errors.** Every failure is an :class:`HttpError` (exit 2) whose ``kind`` says what
  happened (:class:`Failure`) and whose message is one line without headers or credentials; the
  callers put their own prefix in front. Reading the answer (:meth:`Response.json_object`,
  :func:`field`) turns every unexpected shape (not JSON, nested too deeply, a list where an object
  belongs, a missing key, a wrong type) into the same kind of error.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import json as jsonlib
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.masking import mask_url, one_line

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

T = TypeVar("T")


class Failure(enum.Enum):
    """What went wrong with a request."""

    TIMEOUT = "timeout"  # the deadline passed (connect, headers or body)
    CONNECT = "connect"  # no connection: refused, unreachable, unresolvable, a bad URL
    TLS = "tls"  # the server's certificate did not verify, or TLS failed
    REDIRECT = "redirect"  # a redirect that leaves HTTPS or the origin, or too many
    TOO_LARGE = "too large"  # the answer is larger than the cap
    BROKEN = "broken"  # the answer broke off or is not HTTP
    SHAPE = "shape"  # the answer is not what was expected (not JSON, a missing key, a wrong type)


class HttpError(ToolkitError):
    """A request that failed, or an answer of the wrong shape; one line, no credentials. Exit code 2.

    ``kind`` says what happened, ``detail`` is the line itself (``str(exc)``), ``cause`` the
    network library's reason alone for ``CONNECT``, ``TLS`` and ``BROKEN`` (``Failed to establish a
    new connection: [Errno 111] Connection refused``). Each client turns it into its own error with
    its own prefix (``GitHub: GET /user: ...``).
    """

    def __init__(self, kind: Failure, detail: str, *, cause: str = "") -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.cause = cause or detail

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (network trouble, a slow server)."""
        return self.kind in (Failure.TIMEOUT, Failure.CONNECT, Failure.BROKEN)


@dataclass(frozen=True, slots=True)
class Response:
    """A complete answer: status, headers and the whole body (at most the client's cap)."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; :class:`HttpError` (``SHAPE``) when it is not JSON or nests too deeply."""
        try:
            return jsonlib.loads(self.body)
        except RecursionError:
            raise HttpError(Failure.SHAPE, "the answer is JSON nested too deeply to read") from None
        except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
            raise HttpError(Failure.SHAPE, "the answer is not JSON") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; :class:`HttpError` for anything else."""
        return expect(self.json(), dict, "the answer")

    def json_list(self) -> list[Any]:
        """The body as a JSON array; :class:`HttpError` for anything else."""
        return expect(self.json(), list, "the answer")

    def links(self) -> dict[str, str]:
        """The ``Link`` header as ``{rel: url}`` (GitHub's pagination); relative URLs resolved."""
        header = self.headers.get("link", "")
        found: dict[str, str] = {}
        for link in requests.utils.parse_header_links(header) if header else []:
            rel, url = link.get("rel"), link.get("url")
            if rel and url:
                found[rel] = urljoin(self.url, url)
        return found


# -- shapes ------------------------------------------------------------------------------------

_KIND_NAMES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def kind_of(value: object) -> str:
    """``an object``, ``a list``, ``a string``, ``an integer``, ``a number``, ``true or false``, ``null``."""
    return next((name for cls, name in _KIND_NAMES.items() if type(value) is cls), type(value).__name__)


def _is(value: object, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def expect(value: object, expected: type[T], where: str) -> T:
    """``value`` when it is of type ``expected`` (JSON's kinds: an int is not a bool); else
    :class:`HttpError` (``SHAPE``): ``<where> is a list, expected an object``."""
    if not _is(value, expected):
        raise HttpError(
            Failure.SHAPE, f"{where} is {kind_of(value)}, expected {_KIND_NAMES.get(expected, expected.__name__)}"
        )
    return value  # type: ignore[return-value]  # checked just above


def field(obj: Mapping[str, Any], key: str, expected: type[T], where: str) -> T:
    """``obj[key]`` when present and of type ``expected``; else :class:`HttpError` (``SHAPE``)
    naming ``where`` and the key."""
    if key not in obj:
        raise HttpError(Failure.SHAPE, f"{where} has no `{key}`")
    return expect(obj[key], expected, f"`{key}` of {where}")


def optional_field(obj: Mapping[str, Any], key: str, expected: type[T], where: str, default: T) -> T:
    """Like :func:`field`, but a missing key or ``null`` gives ``default``."""
    value = obj.get(key)
    return default if value is None else expect(value, expected, f"`{key}` of {where}")


# -- URLs in messages ---------------------------------------------------------------------------


def shown_url(url: str) -> str:
    """``url`` fit for a message: every part that can hold a secret masked (the toolkit's one
    masking function, :func:`qualisys_infra.core.masking.mask_url`)."""
    return mask_url(url)


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


# -- the deadline --------------------------------------------------------------------------------

_current = threading.local()


class _Deadline:
    """One request's end: a watchdog that shuts down every socket the request opened or reused
    once the time is up, so that no blocked read outlives it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def over(self) -> bool:
        return self.expired or self.remaining() <= 0

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (a duplicate descriptor keeps the socket,
        never another file that reuses the number, until the request ends)."""
        if sock is None:
            return
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except OSError:
            return
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        _current.deadline = self._outer
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a connection reused from the pool
        super().request(*args, **kwargs)


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # before the TLS handshake, which the deadline bounds too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, its connections (direct or through an HTTP proxy) watched by the deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = _POOLS
        return manager


# -- the client ----------------------------------------------------------------------------------


class Client:
    """HTTP(S) requests with the guarantees of the module docstring, over one connection pool.

    ``headers`` go with every request (to the same origin only: a redirect elsewhere is refused).
    ``verify`` is ``True`` (the public roots), a CA bundle's path, or ``False``; ``cert`` a client
    certificate (``(cert_file, key_file)``); ``proxy`` an HTTP proxy's URL (default: the
    environment's). Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
        cert: tuple[str, str] | str | None = None,
        follow_redirects: bool = True,
        proxy: str | None = None,
    ) -> None:
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.follow_redirects = follow_redirects
        self.session = requests.Session()
        adapter = _Adapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})
        # Given with each request: requests lets $REQUESTS_CA_BUNDLE override a session's CA file.
        self.verify = verify
        self.session.cert = cert
        # Also per request, for the same reason: a proxy named here (a kubeconfig's proxy-url) wins
        # over $HTTPS_PROXY; without one, requests reads the environment (and $NO_PROXY) itself.
        self.proxies = {"http": proxy, "https": proxy} if proxy else None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The complete answer to ``method url`` (any status), within the deadline; redirects as
        the module docstring says; :class:`HttpError` for every failure."""
        with _Deadline(self.timeout_seconds) as deadline:
            start = url
            for _ in range(MAX_REDIRECTS + 1):
                response = self._once(method, url, deadline, params=params, json=json, headers=headers)
                if response.status not in _REDIRECTS or not self.follow_redirects:
                    return response
                url = self._redirect_target(method, start, response)
                params = None  # the Location is the whole URL
            raise HttpError(Failure.REDIRECT, f"more than {MAX_REDIRECTS} redirects, the last to {shown_url(url)}")

    def _redirect_target(self, method: str, start: str, response: Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise HttpError(Failure.REDIRECT, f"answered {response.status} without a Location to follow")
        target = urljoin(response.url, location.strip())
        was, goes = origin(start), origin(target)
        shown = shown_url(target)
        if was[0] == "https" and goes[0] != "https":
            raise HttpError(Failure.REDIRECT, f"redirected to {shown}, which leaves HTTPS (not followed)")
        if goes != was:
            raise HttpError(
                Failure.REDIRECT,
                f"redirected to {shown}, another origin than {_origin_text(was)} (not followed)",
            )
        if method.upper() not in ("GET", "HEAD"):
            raise HttpError(
                Failure.REDIRECT,
                f"answered {response.status} to a {method.upper()}, redirecting to {shown} (not followed)",
            )
        return target

    def _once(
        self,
        method: str,
        url: str,
        deadline: _Deadline,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> Response:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self._timeout(started=False)
        try:
            answer = self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=(remaining, remaining),
                verify=self.verify,
                proxies=self.proxies,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            if deadline.over():
                raise self._timeout(started=False) from None
            raise HttpError(Failure.TLS, f"TLS failed: {reason(exc)}", cause=reason(exc)) from None
        except (requests.Timeout, TimeoutError):
            raise self._timeout(started=False) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            if deadline.over():
                raise self._timeout(started=False) from None
            if isinstance(exc, requests.ConnectionError) and _is_protocol(exc):
                cause = reason(exc)
                raise HttpError(Failure.BROKEN, f"the answer is not HTTP or broke off ({cause})", cause=cause) from None
            raise HttpError(Failure.CONNECT, f"cannot connect ({reason(exc)})", cause=reason(exc)) from None
        except (ValueError, UnicodeError) as exc:  # an unparsable URL that requests did not wrap
            cause = _one_line(str(exc))[:300]
            raise HttpError(Failure.CONNECT, f"cannot connect ({cause})", cause=cause) from None
        with contextlib.closing(answer):
            body = self._body(answer, deadline)
            return Response(
                url=url,
                status=answer.status_code,
                reason=_one_line(answer.reason or ""),
                headers=answer.headers,
                body=body,
            )

    def _body(self, answer: requests.Response, deadline: _Deadline) -> bytes:
        announced = answer.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            raise self._too_large()
        body = bytearray()
        try:
            for chunk in _chunks(answer):
                body += chunk
                if len(body) > self.max_bytes:
                    raise self._too_large()
                if deadline.over():
                    raise self._timeout(started=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            if deadline.over():
                raise self._timeout(started=True) from None
            raise HttpError(Failure.BROKEN, f"the answer broke off ({reason(exc)})", cause=reason(exc)) from None
        if deadline.over():  # the watchdog's shutdown can look like the end of a body without a length
            raise self._timeout(started=True)
        return bytes(body)

    def _timeout(self, *, started: bool) -> HttpError:
        if started:
            return HttpError(Failure.TIMEOUT, f"the answer was not complete within {self.timeout_seconds:g} s")
        return HttpError(Failure.TIMEOUT, f"no answer within {self.timeout_seconds:g} s")

    def _too_large(self) -> HttpError:
        return HttpError(Failure.TOO_LARGE, f"the answer is larger than {_size(self.max_bytes)} (not read)")


def _origin_text(where: tuple[str, str, int]) -> str:
    scheme, host, port = where
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if _DEFAULT_PORTS.get(scheme) == port else f"{scheme}://{shown}:{port}"


def _chunks(answer: requests.Response) -> Iterator[bytes]:
    # iter_content decodes gzip/deflate; its chunks are decoded bytes, which the cap counts.
    yield from answer.iter_content(CHUNK_BYTES)


def _is_protocol(exc: requests.ConnectionError) -> bool:
    inner = exc.args[0] if exc.args else None
    return isinstance(inner, urllib3.exceptions.ProtocolError)


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count % (1024 * 1024) == 0 else f"{count:,} bytes"


def _one_line(text: str) -> str:
    """One line, control and bidirectional characters escaped: a server chooses its reason phrase."""
    return one_line(" ".join(text.split()))


def reason(exc: BaseException) -> str:
    """The innermost reason of a ``requests``/``urllib3`` error, on one line, without the repr of
    urllib3's connection object (``HTTPSConnection(host='x', port=443): ``)."""
    inner: object = exc
    for _ in range(5):  # requests' error wraps urllib3's MaxRetryError, which wraps the reason
        nested = getattr(inner, "reason", None)
        if isinstance(nested, BaseException):
            inner = nested
            continue
        args = getattr(inner, "args", ())
        if args and isinstance(args[0], BaseException):
            inner = args[0]
            continue
        break
    text = _one_line(str(inner)) or type(inner).__name__
    text = re.sub(r"^<?[A-Za-z._]*HTTPS?Connection(?:Pool)?(?:\([^)]*\)|\s+object at 0x[0-9a-f]+)?>?: ", "", text)
    return text[:300]


__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_REDIRECTS",
    "Client",
    "Failure",
    "HttpError",
    "Response",
    "expect",
    "field",
    "kind_of",
    "optional_field",
    "origin",
    "reason",
    "shown_url",
]
