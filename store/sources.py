"""Where a plugin comes from: a registry entry, a wheel URL, a wheel file, a PyPI name, or
ledhost's own environment (a plugin pip-installed beside ledhost, which the store lists but
never changes).

:func:`parse_source` turns what a user typed (``ledhost install X``) into a
:class:`Source`:

- ``clockplus`` (a valid plugin id) -> ``registry``
- ``https://host/x-1.0-py3-none-any.whl`` (optionally ``#sha256=<64 hex>``) -> ``url``
- ``./x.whl``, ``/abs/x.whl`` or any existing path -> ``file``
- ``pypi:NAME`` -> ``pypi`` (pip resolves it, wheels only)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import urlsplit

from config import is_valid_id
from store.errors import StoreError

__all__ = ["Source", "SourceKind", "parse_source"]

SourceKind = Literal["registry", "url", "file", "pypi", "environment"]
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
# PEP 508 names: letters, digits, '.', '_', '-'; starts and ends alphanumeric.
_DIST_NAME: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Source:
    """One place a plugin can be installed from; plain data, stored in the env marker."""

    kind: SourceKind
    #: Registry plugin id / URL / file path / PyPI name / distribution name.
    ref: str
    version: str | None = None
    #: Expected sha256 of the wheel (hex), when known.
    sha256: str | None = None

    def __str__(self) -> str:
        text = {"registry": self.ref, "pypi": f"pypi:{self.ref}"}.get(self.kind, self.ref)
        return text + (f"=={self.version}" if self.version else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "version": self.version, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: object) -> Source:
        """Read what :meth:`to_dict` wrote; raises :class:`StoreError` when malformed."""
        if not isinstance(data, dict):
            raise StoreError(f"malformed source {data!r}: expected a table")
        kind, ref = data.get("kind"), data.get("ref")
        version, sha = data.get("version"), data.get("sha256")
        if kind not in get_args(SourceKind) or not isinstance(ref, str):
            raise StoreError(f"malformed source {data!r}: kind or ref")
        if not (version is None or isinstance(version, str)):
            raise StoreError(f"malformed source {data!r}: version")
        if not (sha is None or (isinstance(sha, str) and _SHA256.fullmatch(sha))):
            raise StoreError(f"malformed source {data!r}: sha256")
        return cls(cast(SourceKind, kind), ref, version, sha)


def parse_source(text: str, version: str | None = None) -> Source:
    """Read a source as a user writes it; raises :class:`StoreError` saying what is wrong."""
    text = text.strip()
    if not text:
        raise StoreError("empty plugin source: give a plugin id, a wheel URL or file, or pypi:NAME")
    if text.startswith("pypi:"):
        name = text[5:]
        if not _DIST_NAME.fullmatch(name):
            raise StoreError(f"invalid PyPI name {name!r} in {text!r}")
        return Source("pypi", name, version)
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        url, _, fragment = text.partition("#")
        sha = None
        if fragment:
            key, _, value = fragment.partition("=")
            if key != "sha256" or not _SHA256.fullmatch(value.lower()):
                raise StoreError(f"bad URL fragment {fragment!r}: expected #sha256=<64 hex digits>")
            sha = value.lower()
        return Source("url", url, version, sha)
    if scheme and len(scheme) > 1 and "://" in text:
        raise StoreError(f"unsupported URL scheme {scheme!r} in {text!r}: use http(s) or a file")
    if scheme == "file":
        text = urlsplit(text).path
    if os.path.exists(text) or text.endswith(".whl") or os.sep in text:
        return Source("file", os.path.abspath(text), version)
    if is_valid_id(text):
        return Source("registry", text, version)
    raise StoreError(
        f"cannot read plugin source {text!r}: give a registry plugin id (a-z, 0-9, '_', '-'), "
        "an http(s) URL of a wheel, a wheel file, or pypi:NAME"
    )
