"""Corpus specs: one string names a data source, on the command line and in configs.

    SCHEME:PATH[?key=value&key=value]

e.g. ``mtod:../shared/data/mtod``, ``tsv:data.tsv?text=1&label=0&lang=de&split=test``.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from xlgraph.errors import SpecError


@dataclasses.dataclass(frozen=True)
class Spec:
    scheme: str
    path: str
    params: dict[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.params.get(key, default)

    def __str__(self) -> str:
        query = urllib.parse.urlencode(self.params, safe=",/:")
        return f"{self.scheme}:{self.path}" + (f"?{query}" if query else "")


def parse_spec(spec: str | Spec) -> Spec:
    if isinstance(spec, Spec):
        return spec
    scheme, sep, rest = spec.partition(":")
    if not sep or not scheme or not rest:
        raise SpecError(f"corpus spec {spec!r}: expected SCHEME:PATH[?key=value&...], e.g. mtod:data/mtod")
    path, _, query = rest.partition("?")
    if not path:
        raise SpecError(f"corpus spec {spec!r}: empty path")
    params: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SpecError(f"corpus spec {spec!r}: bad parameter {item!r}, expected key=value")
        if key in params:
            raise SpecError(f"corpus spec {spec!r}: parameter {key!r} given twice")
        params[key] = urllib.parse.unquote(value)
    return Spec(scheme.lower(), path, params)
