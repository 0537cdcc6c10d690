"""A narrow, typed way to the Kubernetes API: connect, read one Argo Rollout, list its pods.

The official ``kubernetes`` client does the HTTP, the authentication (bearer tokens, kubeconfig
users with client certificates or ``exec`` plugins such as ``aws eks get-token``, in-cluster
service accounts) and the TLS; this module only builds it and turns its answers into plain JSON
objects (``dict``) and its failures into one-line errors. The client has no type hints, so
nothing untyped leaves this module.

Errors:

- :class:`~qualisys_infra.core.errors.UsageError` (exit 2) for what is wrong before any request:
  no kubeconfig, an unknown context, an unusable URL or CA file, not running in a pod; and for a
  rollout that does not exist (the command line names something that is not there).
- :class:`KubeError` (exit 2, like the project's other API clients) when the API cannot be reached
  or refuses: connection refused, TLS failure, timeout, 401, 403, a missing Rollout resource type
  (Argo Rollouts not installed), 5xx. ``transient`` is true for what may pass on its own (network,
  timeouts, 429, 5xx), so a caller following a rollout can retry those.

The bearer token never appears in a message.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import urllib3
import yaml

from qualisys_infra.core.errors import ToolkitError, UsageError

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

# The kubernetes package is imported where it is used: importing it takes about half a second (every
# API model), which a command line that does not talk to a cluster should not pay.

ROLLOUT_GROUP = "argoproj.io"
ROLLOUT_VERSION = "v1alpha1"
ROLLOUT_PLURAL = "rollouts"
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
_LOOPBACK_NAMES = frozenset({"localhost"})

JsonObject = dict[str, Any]


class KubeError(ToolkitError):
    """The Kubernetes API could not be reached or refused a request. Exit code 2.

    ``transient`` marks a failure that may pass on its own (network, timeout, 429, 5xx).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class PodRef:
    """How a rollout's pods are found: its namespace and ``spec.selector.matchLabels``."""

    namespace: str
    match_labels: Mapping[str, str]

    @property
    def label_selector(self) -> str:
        return ",".join(f"{key}={value}" for key, value in sorted(self.match_labels.items()))


class KubeApi:
    """The two reads a rollout follower needs, over one ``ApiClient``.

    ``where`` names the API in messages (its URL, or the kubeconfig context). Use it as a context
    manager, or call :meth:`close`, to release the client's connection pool.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        where: str,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        from kubernetes import client as k8s_client

        self._api_client = api_client
        self._custom = k8s_client.CustomObjectsApi(api_client)
        self._core = k8s_client.CoreV1Api(api_client)
        self.where = where
        self._timeout = (request_timeout_seconds, request_timeout_seconds)

    def get_rollout(self, namespace: str, name: str) -> JsonObject:
        """The Rollout ``namespace/name`` as the API returns it (metadata, spec, status)."""
        from kubernetes.client.exceptions import ApiException

        what = f"rollout {name} in namespace {namespace}"
        try:
            response = self._custom.get_namespaced_custom_object(
                ROLLOUT_GROUP,
                ROLLOUT_VERSION,
                namespace,
                ROLLOUT_PLURAL,
                name,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 404 and _not_found_kind(exc) == ROLLOUT_PLURAL:
                raise UsageError(f"{what}: not found at {self.where}") from None
            if exc.status == 404:
                raise KubeError(
                    f"{what}: the API at {self.where} has no {ROLLOUT_PLURAL}.{ROLLOUT_GROUP}/{ROLLOUT_VERSION} "
                    "(is Argo Rollouts installed?)"
                ) from None
            raise self._api_error(what, exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._network_error(what, exc) from None
        return self._json_object(what, response)

    def list_pods(self, pods: PodRef) -> list[JsonObject]:
        """The pods matching ``pods`` (every revision: stable, canary, preview), as JSON objects."""
        from kubernetes.client.exceptions import ApiException

        what = f"pods {pods.label_selector} in namespace {pods.namespace}"
        try:
            response = self._core.list_namespaced_pod(
                pods.namespace,
                label_selector=pods.label_selector,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            raise self._api_error(what, exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise self._network_error(what, exc) from None
        items = self._json_object(what, response).get("items") or []
        if not isinstance(items, list):
            raise KubeError(f"{what}: the API at {self.where} answered a PodList without an items list")
        return [item for item in items if isinstance(item, dict)]

    def close(self) -> None:
        self._api_client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _json_object(self, what: str, response: Any) -> JsonObject:
        try:
            body = json.loads(response.data)
        except ValueError:
            raise KubeError(f"{what}: the API at {self.where} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise KubeError(f"{what}: the API at {self.where} answered JSON that is not an object")
        return body

    def _api_error(self, what: str, exc: ApiException) -> KubeError:
        status = int(exc.status or 0)
        if status == 0:  # the client's wrapping of a TLS failure (or another error before any answer)
            return KubeError(f"{what}: cannot talk to the API at {self.where}: {_one_line(exc.reason)}")
        detail = _status_message(exc)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            return KubeError(
                f"{what}: the API at {self.where} refused the credentials (401 Unauthorized); "
                "check the token or the kubeconfig user"
            )
        if status == 403:
            return KubeError(f"{what}: forbidden by the API at {self.where} (403){suffix}")
        transient = status == 429 or status >= 500
        return KubeError(
            f"{what}: the API at {self.where} answered {status} {exc.reason or ''}".rstrip() + suffix,
            transient=transient,
        )

    def _network_error(self, what: str, exc: urllib3.exceptions.HTTPError) -> KubeError:
        reason: BaseException = exc
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            reason = exc.reason
        if isinstance(reason, urllib3.exceptions.SSLError):
            return KubeError(f"{what}: TLS failure talking to the API at {self.where}: {_one_line(reason)}")
        if isinstance(reason, urllib3.exceptions.NameResolutionError):
            return KubeError(f"{what}: cannot resolve the API's host {self.where}", transient=True)
        # Before TimeoutError: a refused connection is a NewConnectionError, a ConnectTimeoutError subclass.
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            text = "connection refused" if "refused" in str(reason).lower() else _one_line(reason)
            return KubeError(f"{what}: cannot reach the API at {self.where}: {text}", transient=True)
        if isinstance(reason, urllib3.exceptions.TimeoutError):
            return KubeError(f"{what}: the API at {self.where} did not answer in time", transient=True)
        return KubeError(f"{what}: cannot reach the API at {self.where}: {_one_line(reason)}", transient=True)


def connect(
    *,
    api_url: str | None = None,
    token: str | None = None,
    ca_file: Path | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> KubeApi:
    """One :class:`KubeApi` from the one way of reaching the API the caller chose.

    ``api_url`` (with ``token``, optional ``ca_file``) wins; else ``in_cluster``; else a kubeconfig
    (``kubeconfig`` or ``$KUBECONFIG`` or ``~/.kube/config``) and its ``context`` (default: the
    file's current context).
    """
    if api_url is not None:
        if kubeconfig is not None or context is not None or in_cluster:
            raise UsageError("give either an API URL and token, a kubeconfig (and context), or in-cluster; not several")
        if not token:
            raise UsageError(f"an API URL ({api_url}) needs a bearer token")
        return client_from_token(api_url, token, ca_file=ca_file, request_timeout_seconds=request_timeout_seconds)
    if token is not None or ca_file is not None:
        raise UsageError("a token or CA file is used only with an API URL")
    if in_cluster:
        if kubeconfig is not None or context is not None:
            raise UsageError("in-cluster configuration takes no kubeconfig or context")
        return client_in_cluster(request_timeout_seconds=request_timeout_seconds)
    return client_from_kubeconfig(kubeconfig, context, request_timeout_seconds=request_timeout_seconds)


def client_from_token(
    api_url: str,
    token: str,
    *,
    ca_file: Path | None = None,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> KubeApi:
    """A client for ``api_url`` authenticating with a bearer ``token``.

    ``https`` URLs verify the server against ``ca_file`` (the cluster's CA bundle, as EKS gives
    it), or the public roots when there is none. Plain ``http`` is accepted only for a loopback
    host (a local proxy such as ``kubectl proxy``, or a test server), since the token would
    otherwise cross the network in clear.
    """
    try:
        parts = urlsplit(api_url)
        hostname, _ = parts.hostname, parts.port
    except ValueError as exc:  # an unclosed "[::1", a port that is not a number
        raise UsageError(f"API URL {api_url!r}: {exc}; expected https://HOST[:PORT]") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise UsageError(f"API URL {api_url!r}: expected https://HOST[:PORT]")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise UsageError(f"API URL {api_url!r}: plain http is allowed only for a loopback host; use https")
    if not token.strip() or any(ch in token for ch in "\r\n"):
        raise UsageError("the bearer token is empty or spans several lines")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"CA file {ca_file} does not exist")
    configuration = _configuration()
    configuration.host = api_url.rstrip("/")
    configuration.api_key = {"authorization": token.strip()}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    if ca_file is not None:
        configuration.ssl_ca_cert = str(ca_file)
    return KubeApi(
        _api_client(configuration),
        where=configuration.host,
        request_timeout_seconds=request_timeout_seconds,
    )


def client_from_kubeconfig(
    path: Path | None = None,
    context: str | None = None,
    *,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> KubeApi:
    """A client from a kubeconfig file (default ``$KUBECONFIG``, else ``~/.kube/config``) and context.

    The file is never written back (a refreshed token stays in memory).
    """
    files = _kubeconfig_files(path)
    config_file = os.pathsep.join(str(f) for f in files)
    shown = ", ".join(str(f) for f in files)
    names, current = _kubeconfig_contexts(files)
    if context is not None and context not in names:
        raise UsageError(f"kubeconfig {shown} has no context {context!r} (contexts: {', '.join(names) or 'none'})")
    if context is None and not current:
        raise UsageError(
            f"kubeconfig {shown} has no current context; name one (contexts: {', '.join(names) or 'none'})"
        )
    chosen = context if context is not None else current
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    try:
        api_client = k8s_config.new_client_from_config(
            config_file=config_file,
            context=chosen,
            persist_config=False,
            client_configuration=_configuration(),
        )
    except ConfigException as exc:
        raise UsageError(f"kubeconfig {shown}, context {chosen}: {_one_line(exc)}") from None
    host = str(api_client.configuration.host)
    return KubeApi(api_client, where=f"{host} (context {chosen})", request_timeout_seconds=request_timeout_seconds)


def client_in_cluster(*, request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS) -> KubeApi:
    """A client from the pod's service account (token and CA mounted by Kubernetes)."""
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    configuration = _configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise UsageError(f"in-cluster configuration: {_one_line(exc)} (is this running in a pod?)") from None
    return KubeApi(
        _api_client(configuration),
        where=f"{configuration.host} (in-cluster)",
        request_timeout_seconds=request_timeout_seconds,
    )


def _api_client(configuration: Any) -> Any:
    from kubernetes import client as k8s_client

    return k8s_client.ApiClient(configuration)


def _configuration() -> Any:
    from kubernetes import client as k8s_client

    configuration = k8s_client.Configuration()
    # One attempt per request: the follower polls (and retries transient failures) itself, and a
    # refused connection should say so at once instead of after urllib3's three silent retries.
    configuration.retries = False
    return configuration


def _kubeconfig_files(path: Path | None) -> list[Path]:
    if path is not None:
        if not path.is_file():
            raise UsageError(f"kubeconfig {path} does not exist")
        return [path]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        files = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
        existing = [f for f in files if f.is_file()]
        if not existing:
            raise UsageError(f"KUBECONFIG={env} names no existing file")
        return existing
    default = Path("~/.kube/config").expanduser()
    if not default.is_file():
        raise UsageError(
            f"no kubeconfig ({default} does not exist and KUBECONFIG is not set); "
            "give a kubeconfig, an API URL and token, or run in-cluster"
        )
    return [default]


def _kubeconfig_contexts(files: list[Path]) -> tuple[list[str], str]:
    """The context names of the kubeconfig files and the current context, merged as kubectl does
    (the first file that sets ``current-context`` wins)."""
    names: set[str] = set()
    current = ""
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"kubeconfig {path}: cannot read it: {_one_line(exc)}") from None
        if document is None:
            continue
        if not isinstance(document, dict):
            raise UsageError(f"kubeconfig {path}: not a kubeconfig (expected a mapping)")
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.add(entry["name"])
        if not current and isinstance(document.get("current-context"), str):
            current = document["current-context"]
    return sorted(names), current


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _status_body(exc: ApiException) -> JsonObject:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _status_message(exc: ApiException) -> str:
    """The ``message`` of the ``Status`` object the API sends with an error, on one line."""
    message = _status_body(exc).get("message")
    return _one_line(message) if isinstance(message, str) else ""


def _not_found_kind(exc: ApiException) -> str:
    """``details.kind`` of a 404 ``Status``: the plural of what was not found (``rollouts``), or ``""``.

    A missing object comes with a ``Status`` naming its kind; a missing resource type (the CRD is
    not installed) with a bare "404 page not found".
    """
    details = _status_body(exc).get("details")
    kind = details.get("kind") if isinstance(details, dict) else None
    return kind if isinstance(kind, str) else ""


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


# -- command-line options: how a command reaches the API (signoff, release) -------------------------

KUBE_TOKEN_ENV = "KUBE_TOKEN"  # noqa: S105 - the variable's name, not a token


def add_connection_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options of :func:`connect`: an API URL with ``$KUBE_TOKEN``, a kubeconfig and context, or
    the pod's service account; by default the kubeconfig, as kubectl."""
    parser.add_argument(
        "--kube-api-url",
        default=None,
        metavar="URL",
        help=f"Kubernetes API URL, with the bearer token in ${KUBE_TOKEN_ENV} (default: the kubeconfig)",
    )
    parser.add_argument(
        "--kube-ca-file", type=Path, default=None, metavar="FILE", help="the API's CA bundle (with --kube-api-url)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        metavar="FILE",
        help="kubeconfig (default: $KUBECONFIG, ~/.kube/config)",
    )
    parser.add_argument(
        "--kube-context", default=None, metavar="NAME", help="kubeconfig context (default: the current)"
    )
    parser.add_argument("--in-cluster", action="store_true", help="use the pod's service account")


def connection_options(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """:func:`connect`'s keywords from :func:`add_connection_options`' options; conflicting choices
    and missing files are bad input (exit 2)."""
    chosen = [
        name
        for name, given in (
            ("--kube-api-url", args.kube_api_url),
            ("--kubeconfig/--kube-context", args.kubeconfig or args.kube_context),
            ("--in-cluster", args.in_cluster),
        )
        if given
    ]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)}: choose one way to reach the Kubernetes API")
    if args.kube_ca_file is not None and not args.kube_api_url:
        raise UsageError("--kube-ca-file: used only with --kube-api-url")
    for option, path in (("--kube-ca-file", args.kube_ca_file), ("--kubeconfig", args.kubeconfig)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{option}: {path} does not exist")
    if args.kube_api_url:
        return {
            "api_url": args.kube_api_url,
            "token": environ.get(KUBE_TOKEN_ENV, "").strip() or None,
            "ca_file": args.kube_ca_file,
        }
    if args.in_cluster:
        return {"in_cluster": True}
    return {"kubeconfig": args.kubeconfig, "context": args.kube_context}
