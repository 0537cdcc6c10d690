"""A narrow, typed way to the Kubernetes API: connect, read one Argo Rollout, list its pods and
ReplicaSets, and put a rollout back on an earlier pod template (a JSON patch, as
``kubectl argo rollouts undo`` sends).

The official ``kubernetes`` package reads the configuration (kubeconfig users with bearer tokens,
client certificates or ``exec`` plugins such as ``aws eks get-token``, refreshed when they
expire; in-cluster service accounts); the requests go through the toolkit's one HTTP client
(:mod:`qualisys_infra.core.http`), so each has a whole-request deadline (connection, headers and
body: a trickling API server cannot hold a release), follows no redirect off the API's origin,
and reads at most 32 MiB. Answers become plain JSON objects (``dict``), failures one-line errors.
The package has no type hints, so nothing untyped leaves this module.

Errors:

- :class:`~qualisys_infra.core.errors.UsageError` (exit 2) for what is wrong before any request:
  no kubeconfig, an unknown context, an unusable URL or CA file, not running in a pod; and for a
  rollout that does not exist (the command line names something that is not there).
- :class:`KubeError` (exit 2, like the project's other API clients) when the API cannot be reached
  or refuses: connection refused, TLS failure, timeout, 401, 403, a missing Rollout resource type
  (Argo Rollouts not installed), 5xx, an answer that is not a JSON object (or a pod list without
  an ``items`` list), a redirect, an answer over the cap. ``transient`` is true for what may pass
  on its own (network, timeouts, 429, 5xx), so a caller following a rollout can retry those.

The bearer token never appears in a message.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode, urlsplit

import yaml

from qualisys_infra.core import http
from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.core.masking import mask_url

# The kubernetes package is imported where it is used: importing it takes about half a second (every
# API model), which a command line that does not talk to a cluster should not pay.

ROLLOUT_GROUP = "argoproj.io"
ROLLOUT_VERSION = "v1alpha1"
ROLLOUT_PLURAL = "rollouts"
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a pod list of a few thousand pods
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
    """What a release needs of the API (the rollout, its pods and ReplicaSets, one patch of the
    rollout), over one HTTP client.

    ``configuration`` is a ``kubernetes.client.Configuration`` (host, credentials, TLS), as the
    ``client_*`` functions build it; ``where`` names the API in messages (its URL, or the
    kubeconfig context). Use it as a context manager, or call :meth:`close`, to release the
    connection pool.
    """

    def __init__(
        self,
        configuration: Any,
        *,
        where: str,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        if getattr(configuration, "tls_server_name", None):
            raise UsageError(
                f"the API at {where}: a TLS server name (tls-server-name) is not supported; use the URL's host"
            )
        self._configuration = configuration
        self._host = str(configuration.host).rstrip("/")
        self.where = where
        verify: bool | str = (
            (str(configuration.ssl_ca_cert) if configuration.ssl_ca_cert else True)
            if configuration.verify_ssl
            else False
        )
        cert: tuple[str, str] | str | None = None  # a kubeconfig user's client certificate
        if configuration.cert_file:
            cert = (
                (str(configuration.cert_file), str(configuration.key_file))
                if configuration.key_file
                else str(configuration.cert_file)
            )
        self._http = http.Client(
            timeout_seconds=request_timeout_seconds,
            max_bytes=MAX_ANSWER_BYTES,
            headers={"Accept": "application/json", "User-Agent": "qualisys-infra"},
            verify=verify,
            cert=cert,
            proxy=_kubeconfig_proxy(configuration),
        )

    def get_rollout(self, namespace: str, name: str) -> JsonObject:
        """The Rollout ``namespace/name`` as the API returns it (metadata, spec, status)."""
        what = f"rollout {name} in namespace {namespace}"
        path = (
            f"/apis/{ROLLOUT_GROUP}/{ROLLOUT_VERSION}/namespaces/{quote(namespace, safe='')}/"
            f"{ROLLOUT_PLURAL}/{quote(name, safe='')}"
        )
        response = self._get(what, path)
        if response.status == 404:
            if _not_found_kind(response) == ROLLOUT_PLURAL:
                raise UsageError(f"{what}: not found at {self.where}")
            raise KubeError(
                f"{what}: the API at {self.where} has no {ROLLOUT_PLURAL}.{ROLLOUT_GROUP}/{ROLLOUT_VERSION} "
                "(is Argo Rollouts installed?)"
            )
        return self._json_object(what, response)

    def list_pods(self, pods: PodRef) -> list[JsonObject]:
        """The pods matching ``pods`` (every revision: stable, canary, preview), as JSON objects."""
        what = f"pods {pods.label_selector} in namespace {pods.namespace}"
        path = f"/api/v1/namespaces/{quote(pods.namespace, safe='')}/pods?" + urlencode(
            {"labelSelector": pods.label_selector}
        )
        return self._items(what, self._json_object(what, self._get(what, path)), "PodList")

    def list_replica_sets(self, pods: PodRef) -> list[JsonObject]:
        """The ReplicaSets matching ``pods`` (a rollout's revisions, current and earlier)."""
        what = f"replicasets {pods.label_selector} in namespace {pods.namespace}"
        path = f"/apis/apps/v1/namespaces/{quote(pods.namespace, safe='')}/replicasets?" + urlencode(
            {"labelSelector": pods.label_selector}
        )
        return self._items(what, self._json_object(what, self._get(what, path)), "ReplicaSetList")

    def patch_rollout(self, namespace: str, name: str, operations: list[JsonObject]) -> JsonObject:
        """Apply the JSON patch ``operations`` (RFC 6902) to the Rollout ``namespace/name``; the
        patched object. A failed ``test`` operation (the rollout changed since it was read) is a
        :class:`KubeError` saying so."""
        what = f"rollout {name} in namespace {namespace}"
        url = self._host + (
            f"/apis/{ROLLOUT_GROUP}/{ROLLOUT_VERSION}/namespaces/{quote(namespace, safe='')}/"
            f"{ROLLOUT_PLURAL}/{quote(name, safe='')}"
        )
        headers = {**self._auth_headers(what), "Content-Type": "application/json-patch+json"}
        try:
            response = self._http.request("PATCH", url, json=operations, headers=headers)
        except http.HttpError as exc:
            raise self._network_error(what, exc) from None
        if response.status == 404:
            raise KubeError(f"{what}: not found at {self.where}")
        if response.status == 422 and "test" in _status_message(response).lower():
            raise KubeError(f"{what}: changed at {self.where} since it was read; not patched")
        if not 200 <= response.status < 300:
            raise self._api_error(what, response)
        return self._json_object(what, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _get(self, what: str, path: str) -> http.Response:
        """The answer to ``GET path``: 2xx and 404 are returned, everything else raises."""
        try:
            response = self._http.get(self._host + path, headers=self._auth_headers(what))
        except http.HttpError as exc:
            raise self._network_error(what, exc) from None
        if 200 <= response.status < 300 or response.status == 404:
            return response
        raise self._api_error(what, response)

    def _auth_headers(self, what: str) -> dict[str, str]:
        """The credentials as the configuration gives them now (an ``exec`` plugin's token is
        fetched again when it has expired)."""
        from kubernetes.config.config_exception import ConfigException

        try:
            settings = self._configuration.auth_settings()
        except (ConfigException, OSError, ValueError) as exc:
            raise KubeError(f"{what}: cannot get credentials for the API at {self.where}: {_one_line(exc)}") from None
        return {
            str(entry["key"]): str(entry["value"])
            for entry in settings.values()
            if entry.get("in") == "header" and entry.get("value")
        }

    def _items(self, what: str, body: JsonObject, kind: str) -> list[JsonObject]:
        """The ``items`` of a list answer, each an object."""
        if "items" not in body:
            raise KubeError(f"{what}: the API at {self.where} answered a {kind} without an items list")
        items = body["items"]
        if items is None:  # an empty list, as Go may write it
            return []
        if not isinstance(items, list):
            raise KubeError(f"{what}: the API at {self.where} answered a {kind} without an items list")
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise KubeError(
                    f"{what}: the API at {self.where} answered a {kind} whose item {number} is "
                    f"{http.kind_of(item)}, expected an object"
                )
        return items

    def _json_object(self, what: str, response: http.Response) -> JsonObject:
        try:
            return response.json_object()
        except http.HttpError as exc:
            raise KubeError(f"{what}: the API at {self.where} answered badly: {exc}") from None

    def _api_error(self, what: str, response: http.Response) -> KubeError:
        status = response.status
        detail = _status_message(response)
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
            f"{what}: the API at {self.where} answered {status} {response.reason}".rstrip() + suffix,
            transient=transient,
        )

    def _network_error(self, what: str, exc: http.HttpError) -> KubeError:
        if exc.kind is http.Failure.TLS:
            return KubeError(f"{what}: cannot talk to the API at {self.where}: {exc.cause}")
        if exc.kind is http.Failure.CONNECT:
            if "Failed to resolve" in exc.cause or "Name or service not known" in exc.cause:
                return KubeError(f"{what}: cannot resolve the API's host {self.where}", transient=True)
            text = "connection refused" if "refused" in exc.cause.lower() else exc.cause
            return KubeError(f"{what}: cannot reach the API at {self.where}: {text}", transient=True)
        if exc.kind is http.Failure.TIMEOUT:
            return KubeError(f"{what}: the API at {self.where} did not answer in time ({exc})", transient=True)
        return KubeError(f"{what}: the API at {self.where}: {exc}", transient=exc.transient)


def connect(
    *,
    api_url: str | None = None,
    token: str | None = None,
    ca_file: Path | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    environ: Mapping[str, str] | None = None,
) -> KubeApi:
    """One :class:`KubeApi` from the one way of reaching the API the caller chose.

    ``api_url`` (with ``token``, optional ``ca_file``) wins; else ``in_cluster``; else a kubeconfig
    (``kubeconfig`` or ``$KUBECONFIG`` of ``environ`` or ``~/.kube/config``) and its ``context``
    (default: the file's current context).
    """
    if api_url is not None:
        if kubeconfig is not None or context is not None or in_cluster:
            raise UsageError("give either an API URL and token, a kubeconfig (and context), or in-cluster; not several")
        if not token:
            raise UsageError(f"an API URL ({mask_url(api_url)}) needs a bearer token")
        return client_from_token(api_url, token, ca_file=ca_file, request_timeout_seconds=request_timeout_seconds)
    if token is not None or ca_file is not None:
        raise UsageError("a token or CA file is used only with an API URL")
    if in_cluster:
        if kubeconfig is not None or context is not None:
            raise UsageError("in-cluster configuration takes no kubeconfig or context")
        return client_in_cluster(request_timeout_seconds=request_timeout_seconds)
    return client_from_kubeconfig(kubeconfig, context, environ=environ, request_timeout_seconds=request_timeout_seconds)


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
        raise UsageError(f"API URL {mask_url(api_url)!r}: {exc}; expected https://HOST[:PORT]") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise UsageError(f"API URL {mask_url(api_url)!r}: expected https://HOST[:PORT]")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise UsageError(f"API URL {mask_url(api_url)!r}: plain http is allowed only for a loopback host; use https")
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
        configuration,
        where=mask_url(configuration.host),
        request_timeout_seconds=request_timeout_seconds,
    )


def client_from_kubeconfig(
    path: Path | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> KubeApi:
    """A client from a kubeconfig file (default ``KUBECONFIG`` in ``environ``, the caller's process
    environment, else ``~/.kube/config``) and context.

    The file is never written back (a refreshed token stays in memory).
    """
    files = _kubeconfig_files(path, environ or {})
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

    configuration = _configuration()
    try:
        k8s_config.load_kube_config(
            config_file=config_file,
            context=chosen,
            persist_config=False,
            client_configuration=configuration,
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise UsageError(f"kubeconfig {shown}, context {chosen}: {_one_line(exc)}") from None
    host = str(configuration.host)
    return KubeApi(
        configuration, where=f"{mask_url(host)} (context {chosen})", request_timeout_seconds=request_timeout_seconds
    )


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
        configuration,
        where=f"{mask_url(configuration.host)} (in-cluster)",
        request_timeout_seconds=request_timeout_seconds,
    )


def _configuration() -> Any:
    from kubernetes import client as k8s_client

    return k8s_client.Configuration()


def _kubeconfig_proxy(configuration: Any) -> str | None:
    """The kubeconfig's ``proxy-url``; ``None`` when the proxy is only the environment's (which
    the HTTP client reads itself, with ``NO_PROXY``): the one a fresh configuration takes from it."""
    proxy = getattr(configuration, "proxy", None)
    if not proxy or proxy == getattr(_configuration(), "proxy", None):
        return None
    return str(proxy)


def _kubeconfig_files(path: Path | None, environ: Mapping[str, str]) -> list[Path]:
    if path is not None:
        if not path.is_file():
            raise UsageError(f"kubeconfig {path} does not exist")
        return [path]
    env = environ.get("KUBECONFIG", "")
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


def _status_body(response: http.Response) -> JsonObject:
    """The ``Status`` object the API sends with an error, or ``{}``."""
    try:
        body = response.json()
    except http.HttpError:
        return {}
    return body if isinstance(body, dict) else {}


def _status_message(response: http.Response) -> str:
    """The ``message`` of the ``Status`` object the API sends with an error, on one line."""
    message = _status_body(response).get("message")
    return _one_line(message)[:300] if isinstance(message, str) else ""


def _not_found_kind(response: http.Response) -> str:
    """``details.kind`` of a 404 ``Status``: the plural of what was not found (``rollouts``), or ``""``.

    A missing object comes with a ``Status`` naming its kind; a missing resource type (the CRD is
    not installed) with a bare "404 page not found".
    """
    details = _status_body(response).get("details")
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
    return {"kubeconfig": args.kubeconfig, "context": args.kube_context, "environ": environ}
