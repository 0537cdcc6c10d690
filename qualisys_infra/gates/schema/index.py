"""Provider schemas read from the installed bindings' jsii assemblies, cached once per install.

Every binding (``cdktn_provider_aws`` and its siblings) ships its jsii assembly
(``_jsii/<name>@<version>.jsii.tgz``, member ``package/.jsii``). In it, each resource, data
source, ephemeral resource and provider class names its Terraform type in its docs
(``Represents a {@link https://registry.terraform.io/.../resources/s3_bucket aws_s3_bucket}``) and
takes a config struct whose every property links its registry anchor
(``.../s3_bucket#bucket S3Bucket#bucket``): the anchor is the Terraform name, the property's jsii
type its shape. The core ``cdktn`` assembly holds the backends (``S3BackendConfig``), whose
properties carry no anchor; their Terraform names are the snake_case of the property names, as
the engine writes them.

Extraction parses about 155 MB of JSON for the AWS binding, so it runs in child processes, one
per binding in parallel (the caller's memory stays as it was), and its result is cached under
the cache folder as one file per binding and version: a small header (every type's name and
where its schema lies) followed by each type's schema as a separate ``marshal`` record, so a
check unpacks only the types it meets.
Files are written atomically; one that is truncated, corrupt, from another format or Python, or
from another copy of the assembly is rebuilt.

Shapes (plain tuples and dicts, so ``marshal`` stores them):

- ``"string" | "number" | "bool" | "any"`` (``any``: the binding leaves the level untyped);
- ``("list", shape)``, ``("map", shape)``;
- ``("object", block)``: one nested block or object; a list of them is ``("list", ("object", b))``;
- ``("union", (shape, ...))``;
- a block is ``{terraform_name: (required, shape)}``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import io
import json
import marshal
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.progress import Progress
from qualisys_infra.core.runtime import PROJECT_ROOT

Shape: TypeAlias = "str | tuple[Any, ...]"
Block: TypeAlias = "dict[str, tuple[bool, Shape]]"

DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache" / "qualisys-schema"
CORE_PACKAGE = "cdktn"
BINDING_PREFIX = "cdktn_provider_"
# Bumped whenever the extracted shapes or the file layout change: older files are rebuilt.
FORMAT = 1
MAGIC = b"QSCHEMA\x00"
KINDS = ("resource", "data", "ephemeral", "provider", "backend")

_BASES = {
    "cdktn.TerraformResource": "resource",
    "cdktn.TerraformDataSource": "data",
    "cdktn.TerraformEphemeralResource": "ephemeral",
    "cdktn.TerraformProvider": "provider",
}
_TYPE_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/([^/\s]+)/([^/\s]+)/([^/\s]+)/docs[^\s}]*\s+([A-Za-z0-9_]+)\}"
)
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(\S+)\s[^}]*\}")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class SchemaCacheError(ToolkitError):
    """A binding's assembly cannot be found or read, or its cache cannot be written."""


def snake_case(name: str) -> str:
    """``kmsKeyId`` -> ``kms_key_id``, ``ec2MetadataServiceEndpoint`` -> ``ec2_metadata_service_endpoint``."""
    return _CAMEL.sub("_", name).lower()


# --- finding the assemblies --------------------------------------------------------------------


def package_for(provider: str) -> str:
    """The Python package whose assembly describes ``provider`` (``aws`` -> ``cdktn_provider_aws``).

    ``terraform`` (the built-in provider, whose backends the core package describes) and a
    package name itself are accepted too.
    """
    if provider in ("terraform", CORE_PACKAGE) or provider.startswith(BINDING_PREFIX):
        return CORE_PACKAGE if provider == "terraform" else provider
    return BINDING_PREFIX + provider.replace("-", "_")


def find_assembly(package: str) -> Path | None:
    """The ``.jsii.tgz`` of an installed binding, found without importing it (imports start jsii)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted((Path(location) / "_jsii").glob("*.jsii.tgz"))
        if found:
            return found[0]
    return None


def _version_of(assembly: Path) -> str:
    # provider-aws@25.8.1.jsii.tgz -> 25.8.1
    return assembly.name.removesuffix(".jsii.tgz").rpartition("@")[2]


def cache_path(package: str, version: str, cache_dir: Path) -> Path:
    return cache_dir / f"{package}-{version}.schema"


# --- extraction ----------------------------------------------------------------------------------


def _read_assembly(path: Path) -> dict[str, Any]:
    with tarfile.open(path, "r:gz") as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise SchemaCacheError(f"{path}: holds no package/.jsii")
        assembly: dict[str, Any] = json.loads(member.read())
        # jsii may store a compressed assembly behind a redirect.
        if assembly.get("schema") == "jsii/file-redirect":
            redirected = tar.extractfile(f"package/{assembly['filename']}")
            if redirected is None:
                raise SchemaCacheError(f"{path}: redirect to a missing {assembly['filename']}")
            raw = redirected.read()
            if assembly.get("compression") == "gzip":
                raw = gzip.decompress(raw)
            assembly = json.loads(raw)
    return assembly


def _doc_strings(docs: Mapping[str, Any]) -> Iterable[str]:
    for value in docs.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            yield from _doc_strings(value)


class _Converter:
    """jsii types -> shapes, one block per struct (shared where the assembly shares it)."""

    def __init__(self, types: Mapping[str, Any], *, anchors: bool) -> None:
        self.types = types
        self.anchors = anchors
        self.blocks: dict[str, Block] = {}
        self.open: set[str] = set()

    def block(self, fqn: str) -> Block:
        if fqn in self.blocks:
            return self.blocks[fqn]
        self.open.add(fqn)
        out: Block = {}
        for prop in self._properties(fqn):
            name = self._terraform_name(prop)
            out[name] = (not prop.get("optional", False), self.shape(prop["type"]))
        self.open.discard(fqn)
        self.blocks[fqn] = out
        return out

    def _properties(self, fqn: str) -> list[dict[str, Any]]:
        spec = self.types.get(fqn) or {}
        props: list[dict[str, Any]] = []
        for parent in spec.get("interfaces") or ():
            # The meta-arguments (count, for_each, ...) are Terraform's, checked separately.
            if parent in self.types and "MetaArguments" not in parent:
                props += self._properties(parent)
        props += [p for p in spec.get("properties") or () if not p.get("static")]
        return props

    def _terraform_name(self, prop: Mapping[str, Any]) -> str:
        if self.anchors:
            for text in _doc_strings(prop.get("docs") or {}):
                match = _ANCHOR.search(text)
                if match:
                    return match.group(1)
        return snake_case(str(prop["name"]))

    def shape(self, type_: Mapping[str, Any]) -> Shape:
        if "primitive" in type_:
            return {"string": "string", "number": "number", "boolean": "bool", "date": "string"}.get(
                type_["primitive"], "any"
            )
        if "collection" in type_:
            kind = "map" if type_["collection"]["kind"] == "map" else "list"
            return (kind, self.shape(type_["collection"]["elementtype"]))
        if "union" in type_:
            # IResolvable is the engine's token: rendered as a "${...}" string, accepted anywhere.
            members = [t for t in type_["union"]["types"] if t.get("fqn") != "cdktn.IResolvable"]
            shapes: list[Shape] = []
            for member in members:
                converted = self.shape(member)
                if not any(converted is s or converted == s for s in shapes):
                    shapes.append(converted)
            if not shapes:
                return "any"
            return shapes[0] if len(shapes) == 1 else ("union", tuple(shapes))
        fqn = type_.get("fqn", "")
        spec = self.types.get(fqn)
        if spec is None or not spec.get("datatype") or fqn in self.open:
            return "any"
        return ("object", self.block(fqn))


def _terraform_type(docs: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(source, provider_version, type)`` from a class summary's registry link."""
    match = _TYPE_LINK.search(str(docs.get("summary", "")))
    if not match:
        return None
    namespace, provider, version, type_name = match.groups()
    return f"{namespace}/{provider}", version, type_name


def _config_fqn(cls: Mapping[str, Any]) -> str | None:
    for param in (cls.get("initializer") or {}).get("parameters") or ():
        if param.get("name") in ("config", "props") and "fqn" in param.get("type", {}):
            return str(param["type"]["fqn"])
    return None


def extract(package: str, assembly: Path) -> tuple[dict[str, Any], dict[str, dict[str, Block]]]:
    """Read one assembly: its header facts and ``{kind: {terraform type: block}}``."""
    data = _read_assembly(assembly)
    types: dict[str, Any] = data.get("types") or {}
    converter = _Converter(types, anchors=package != CORE_PACKAGE)
    kinds: dict[str, dict[str, Block]] = {kind: {} for kind in KINDS}
    facts: dict[str, Any] = {"provider": "", "provider_source": "", "provider_version": ""}
    for cls in types.values():
        if cls.get("kind") != "class":
            continue
        base = cls.get("base")
        config = _config_fqn(cls)
        if config is None:
            continue
        if base == "cdktn.TerraformBackend":
            kinds["backend"][snake_case(str(cls["name"]).removesuffix("Backend"))] = converter.block(config)
            continue
        kind = _BASES.get(str(base))
        found = _terraform_type(cls.get("docs") or {}) if kind else None
        if kind is None or found is None:
            continue
        source, version, type_name = found
        kinds[kind][type_name] = converter.block(config)
        if kind == "provider":
            facts.update(provider=type_name, provider_source=source, provider_version=version)
        elif not facts["provider_source"]:
            facts.update(provider_source=source, provider_version=version)
    facts["assembly_fingerprint"] = str(data.get("fingerprint", ""))
    return facts, kinds


def _source_stamp(assembly: Path) -> tuple[int, int]:
    stat = assembly.stat()
    return stat.st_size, stat.st_mtime_ns


def _python_tag() -> str:
    # marshal's format may change between Python versions; a cache is per interpreter version.
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}-m{marshal.version}"


def build_cache(package: str, cache_dir: str) -> tuple[str, float]:
    """Extract ``package``'s assembly and write its cache file atomically; return its path and time.

    Runs in a worker process (see :func:`ensure_indexes`); the arguments are plain strings.
    """
    started = time.perf_counter()
    assembly = find_assembly(package)
    if assembly is None:
        raise SchemaCacheError(f"{package}: not installed (no _jsii/*.jsii.tgz found)")
    facts, kinds = extract(package, assembly)
    payload = io.BytesIO()
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for kind in KINDS:
        table[kind] = {}
        for name in sorted(kinds[kind]):
            record = marshal.dumps(kinds[kind][name])
            table[kind][name] = (payload.tell(), len(record))
            payload.write(record)
    body = payload.getvalue()
    header = {
        "format": FORMAT,
        "python": _python_tag(),
        "package": package,
        "version": _version_of(assembly),
        "source": _source_stamp(assembly),
        "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
        "types": table,
        **facts,
    }
    head = marshal.dumps(header)
    target = cache_path(package, header["version"], Path(cache_dir))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide the cache from other users of the venv
            out.write(MAGIC + len(head).to_bytes(8, "little") + head + body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return str(target), time.perf_counter() - started


# --- loading -------------------------------------------------------------------------------------


@dataclass
class SchemaIndex:
    """One binding's schemas: every type's name at hand, each type's block unpacked on first use."""

    package: str
    version: str
    provider: str
    provider_source: str
    provider_version: str
    path: Path
    extracted: bool
    _table: dict[str, dict[str, tuple[int, int]]]
    _payload: bytes
    _blocks: dict[tuple[str, str], Block] = field(default_factory=dict, repr=False)

    def names(self, kind: str) -> frozenset[str]:
        """Every Terraform type of ``kind`` (``resource``, ``data``, ``ephemeral``, ``provider``, ``backend``)."""
        return frozenset(self._table.get(kind, ()))

    def block(self, kind: str, name: str) -> Block | None:
        """The schema of one type, or None when the binding has no such type."""
        key = (kind, name)
        if key in self._blocks:
            return self._blocks[key]
        where = self._table.get(kind, {}).get(name)
        if where is None:
            return None
        offset, length = where
        block: Block = marshal.loads(self._payload[offset : offset + length])  # noqa: S302 - see _read_cache
        self._blocks[key] = block
        return block

    @property
    def label(self) -> str:
        return f"{self.package.replace('_', '-')} {self.version}"


def _read_cache(path: Path, package: str, version: str, assembly: Path) -> SchemaIndex | None:
    """The cached index, or None when the file is missing, corrupt, stale or from another Python."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        if not raw.startswith(MAGIC):
            return None
        start = len(MAGIC) + 8
        size = int.from_bytes(raw[len(MAGIC) : start], "little")
        # Our own file, digest-checked against corruption; whoever can write it can write this code.
        header = marshal.loads(raw[start : start + size])  # noqa: S302
        body = raw[start + size :]
        if not isinstance(header, dict):
            return None
        expected = (FORMAT, _python_tag(), package, version, _source_stamp(assembly))
        found = (header.get("format"), header.get("python"), header.get("package"), header.get("version"))
        if (*found, tuple(header.get("source") or ())) != expected:
            return None
        if hashlib.blake2b(body, digest_size=16).hexdigest() != header.get("digest"):
            return None
        return SchemaIndex(
            package=package,
            version=version,
            provider=str(header["provider"]),
            provider_source=str(header["provider_source"]),
            provider_version=str(header["provider_version"]),
            path=path,
            extracted=False,
            _table=header["types"],
            _payload=body,
        )
    except (ValueError, EOFError, TypeError, KeyError):
        return None


_LOADED: dict[tuple[str, Path], SchemaIndex | None] = {}


def _start_build(package: str, directory: Path) -> subprocess.Popen[str]:
    # A fresh interpreter, not fork (the caller may hold the engine's threads and jsii pipes) and
    # not multiprocessing's spawn (which re-runs the caller's __main__): `python -m` this module.
    return subprocess.Popen(  # noqa: S603 - our own module, an argument list, no shell
        [sys.executable, "-m", __name__, package, str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish_build(package: str, process: subprocess.Popen[str]) -> tuple[Path, float]:
    out, err = process.communicate()
    if process.returncode != 0:
        last = (err.strip().splitlines() or [f"exit code {process.returncode}"])[-1]
        raise SchemaCacheError(f"{package}: schema extraction failed: {last}")
    result = json.loads(out)
    return Path(result["path"]), float(result["seconds"])


def _build(missing: Mapping[str, tuple[Path, str]], directory: Path, say: Progress) -> dict[str, Path]:
    """Extract every missing index, as many at once as there are CPUs, largest assembly first."""
    pending = sorted(missing, key=lambda p: missing[p][0].stat().st_size, reverse=True)
    running: dict[str, subprocess.Popen[str]] = {}
    built: dict[str, Path] = {}
    try:
        while pending or running:
            while pending and len(running) < (os.cpu_count() or 1):
                package = pending.pop(0)
                say(f"extracting the {package} {missing[package][1]} schema from its jsii assembly (once per install)")
                running[package] = _start_build(package, directory)
            done = [p for p, job in running.items() if job.poll() is not None]
            if not done:
                time.sleep(0.02)
            for package in done:
                path, seconds = _finish_build(package, running.pop(package))
                built[package] = path
                say(f"{package} {missing[package][1]}: schema extracted in {seconds:.1f} s into {path}")
    finally:
        for job in running.values():
            job.kill()
            job.wait()
    return built


def ensure_indexes(
    providers: Iterable[str] | None = None, *, cache_dir: Path | None = None, progress: Progress | None = None
) -> dict[str, SchemaIndex]:
    """Load the indexes of ``providers`` (default: every installed binding and the core), building
    the missing or broken ones in parallel worker processes. Keys are package names.

    ``progress`` receives one line when an extraction starts and one when it ends; nothing is
    printed. A provider without an installed binding is left out of the result.
    """
    directory = (cache_dir or DEFAULT_CACHE_DIR).resolve()
    packages = [package_for(p) for p in (providers if providers is not None else installed_bindings())]
    found: dict[str, SchemaIndex] = {}
    missing: dict[str, tuple[Path, str]] = {}
    for package in dict.fromkeys(packages):
        key = (package, directory)
        if key in _LOADED:
            if _LOADED[key] is not None:
                found[package] = _LOADED[key]  # type: ignore[assignment]
            continue
        assembly = find_assembly(package)
        if assembly is None:
            _LOADED[key] = None
            continue
        version = _version_of(assembly)
        index = _read_cache(cache_path(package, version, directory), package, version, assembly)
        if index is None:
            missing[package] = (assembly, version)
        else:
            _LOADED[key] = found[package] = index
    if missing:
        for package, path in _build(missing, directory, progress or (lambda _line: None)).items():
            assembly, version = missing[package]
            index = _read_cache(path, package, version, assembly)
            if index is None:
                raise SchemaCacheError(f"{path}: written but unreadable; is the cache folder shared?")
            index.extracted = True
            _LOADED[(package, directory)] = found[package] = index
    return found


def load_index(provider: str, *, cache_dir: Path | None = None, progress: Progress | None = None) -> SchemaIndex:
    """The schema index of one binding (``aws``, ``kubernetes``, ``helm``; ``terraform`` for the
    core's backends), from the cache when it is valid, else extracted once and cached."""
    package = package_for(provider)
    index = ensure_indexes([package], cache_dir=cache_dir, progress=progress).get(package)
    if index is None:
        raise SchemaCacheError(f"{provider}: no binding installed ({package} has no jsii assembly)")
    return index


def forget_loaded() -> None:
    """Drop the indexes loaded in this process (the next load reads the cache files again)."""
    _LOADED.clear()


def installed_bindings() -> list[str]:
    """The core package and every installed ``cdktn_provider_*`` package, by package name."""
    import pkgutil

    names = {m.name for m in pkgutil.iter_modules() if m.name.startswith(BINDING_PREFIX)}
    return [CORE_PACKAGE, *sorted(names)]


def _main(argv: list[str]) -> int:
    """``python -m qualisys_infra.gates.schema.index PACKAGE CACHE_DIR``: the worker of :func:`ensure_indexes`."""
    package, cache_dir = argv
    path, seconds = build_cache(package, cache_dir)
    print(json.dumps({"path": path, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
