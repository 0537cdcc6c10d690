"""Secrets out of messages: the one place that decides what of a URL or a driver's text is shown.

:func:`mask_url` shows a URL with every part that can hold a secret replaced by ``***``: the
password of its user information (all of it when there is no ``user:`` part and the scheme is not a
database's, since ``https://TOKEN@host`` carries a token as the user name), and the value of every
query or fragment parameter not in a short list of options known to hold no secret
(:data:`SHOWN_URL_PARAMS`: ``sslmode``, ``connect_timeout``, ...). In running text outside URLs it
masks each keyword parameter whose name (percent-decoded, any case) contains a secret word:
``pass`` (password, sslpassword, passfile), ``pwd``, ``secret``, ``token``, ``key`` (sslkey,
api_key), ``auth`` (authorization, not a search's ``author``), ``credential`` or ``signature``, or
is ``sig`` (a shared-access signature).

:func:`mask_text` applies the same to every URL and ``name=value`` pair in running text, and
:func:`scrub` also removes the known secrets of given URLs from a driver's message (drivers echo
pieces of a DSN: a malformed percent-escape, the host part after a second ``@``). Every result is
one line, control and bidirectional characters escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

MASK = "***"
SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "signature")
SECRET_NAMES = frozenset({"sig"})
NOT_SECRET_NAMES = frozenset({"author"})
# Query parameters of the URLs the toolkit takes whose values are shown in messages (libpq's
# connection parameters that hold no secret, redis-py's URL options, chart and API query options);
# every other parameter of a URL is masked.
SHOWN_URL_PARAMS = frozenset(
    {
        "sslmode", "sslrootcert", "sslcert", "sslcrl", "sslcompression", "sslnegotiation", "sslsni",
        "gssencmode", "krbsrvname", "channel_binding", "require_auth", "connect_timeout",
        "application_name", "fallback_application_name", "target_session_attrs", "load_balance_hosts",
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "client_encoding", "options", "host", "hostaddr", "port", "dbname", "user", "service",
        "db", "ssl", "ssl_cert_reqs", "ssl_ca_certs", "ssl_check_hostname", "socket_timeout",
        "socket_connect_timeout", "health_check_interval", "protocol", "decode_responses", "encoding",
        "client_name", "timeout", "per_page", "page", "state", "ref", "since", "q",
    }
)  # fmt: skip
# A role name stands before '@' in these; in any other scheme a lone user part may be a token.
DATABASE_SCHEMES = frozenset({"postgresql", "postgres", "redis", "rediss", "unix"})
_SHORTEST_SCRUBBED = 3  # shorter fragments of a password are too common to replace in running text

# name=value after the start, a separator of a query/fragment, or blank space (libpq's keyword
# form `host=db sslpassword=x`, also `password = 'a b'` with a quoted value).
_PARAM = re.compile(
    r"(?P<lead>^|[?&;#\s])(?P<name>[A-Za-z0-9_.%+-]+)(?P<eq>\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^&;#\s]*)"
)
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


# The placeholders messages use to show a URL's form (`postgresql://USER[:PASSWORD]@HOST:PORT/DB`):
# shown as written, so the advice stays readable; any other user part is judged as a credential.
PLACEHOLDER_USERINFO = frozenset({"USER[:PASSWORD]", "USER:PASSWORD"})


def is_secret_name(name: str) -> bool:
    """Whether a parameter called ``name`` can hold a secret (``sslpassword``, ``X-Amz-Signature``)."""
    decoded = unquote(name).lower()
    if decoded in NOT_SECRET_NAMES:
        return False
    return decoded in SECRET_NAMES or any(word in decoded for word in SECRET_WORDS)


def _split(url: str) -> tuple[str, str | None, str] | None:
    """Scheme as written, credentials and the rest; the credentials end at the *last* ``@``.

    A raw ``@``, ``/`` or ``?`` in a password then stays in the credentials (and is masked)
    instead of spilling into the host part, as it does in libpq and urllib.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = rest.rfind("@")
    if at < 0:
        return scheme, None, rest
    return scheme, rest[:at], rest[at + 1 :]


def one_line(text: str) -> str:
    """``text`` on one line: control and bidirectional characters escaped (``\\n``, ``\\u202e``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _mask_params(text: str, secret: Callable[[str], bool] = is_secret_name) -> str:
    def hide(match: re.Match[str]) -> str:
        if not secret(match.group("name")):
            return match.group(0)
        return f"{match.group('lead')}{match.group('name')}{match.group('eq')}{MASK}"

    return _PARAM.sub(hide, text)


def is_shown_in_url(name: str) -> bool:
    """Whether a URL's query or fragment parameter ``name`` is one whose value is known to hold no
    secret. Inside a URL the rule is the other way round from running text: a parameter is masked
    unless it is known (``?pw=...``, ``?jwt=...``, ``?session=...`` are masked although no secret word
    names them)."""
    return unquote(name).lower() in SHOWN_URL_PARAMS and not is_secret_name(name)


def _mask_url_params(text: str) -> str:
    return _mask_params(text, lambda name: not is_shown_in_url(name))


def _mask_url(url: str) -> str:
    parts = _split(url)
    if parts is None:
        return _mask_url_params(url)
    scheme, userinfo, rest = parts
    shown = f"{scheme}://"
    if userinfo in PLACEHOLDER_USERINFO:
        shown += f"{userinfo}@"  # the form a help or error text shows, not a credential
    elif userinfo is not None:
        user, colon, _ = userinfo.partition(":")
        if colon:
            shown += f"{user}:{MASK}@"
        elif scheme.lower() in DATABASE_SCHEMES:
            shown += f"{user}@"
        else:
            shown += f"{MASK}@"
    return shown + _mask_url_params(rest)


def mask_url(url: str) -> str:
    """``url`` fit for a message: every part that can hold a secret replaced by ``***``; never raises."""
    return one_line(_mask_url(url))


def mask_text(text: str, *, pairs: bool = True) -> str:
    """Running text with every URL in it masked and, with ``pairs``, every secret ``name=value``
    outside URLs (a driver's keyword DSN); without, text such as `key = value` stays as it is."""
    keep: Callable[[str], str] = _mask_params if pairs else str
    pieces: list[str] = []
    end = 0
    for match in _URL.finditer(text):
        pieces += [keep(text[end : match.start()]), _mask_url(match.group(0))]
        end = match.end()
    pieces.append(keep(text[end:]))
    return one_line("".join(pieces))


def secrets_of(url: str) -> list[str]:
    """The secrets of ``url`` as written, decoded, and the pieces a driver may quote, longest first."""
    found: list[str] = []
    scheme, userinfo, _ = _split(url) or ("", None, "")
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if not colon and scheme.lower() not in DATABASE_SCHEMES:
            password = user
        found += [password, unquote(password)]
        for piece in re.split(r"[@:/?#]", password):
            found += [piece, unquote(piece)]
    for match in _PARAM.finditer(url):
        if is_secret_name(match.group("name")):
            value = match.group("value")
            found += [value, unquote(value), unquote(value).strip("'")]
    return sorted({s for s in found if len(s) >= _SHORTEST_SCRUBBED}, key=len, reverse=True)


def scrub(text: str, *urls: str) -> str:
    """``text`` (a driver's message) on one line: each URL masked, its secrets removed, and any
    other URL or secret ``name=value`` in it masked as :func:`mask_text` does."""
    for url in urls:
        if url:
            text = text.replace(url, _mask_url(url))
            for secret in secrets_of(url):
                text = text.replace(secret, MASK)
    return mask_text(" ".join(line.strip() for line in text.splitlines() if line.strip()))
