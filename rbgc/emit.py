"""Writing the bundle: a YAML stream, a JSON `List`, or one file per object.

Output is byte-identical for the same input: objects come sorted (wave, Argo CD kind order,
kind, namespace, name, input position), generated objects are built in Kubernetes' key order
(apiVersion, kind, metadata, spec), pass-through documents keep the user's order exactly,
and nothing depends on time, hash seeds or the order files were given in.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import yaml

from rbgc.bundle import Bundle
from rbgc.k8s.goyaml import resolves_to_non_string
from rbgc.k8s.manifest import Manifest

if TYPE_CHECKING:
    from pathlib import Path


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter; multi-line strings as literal blocks so config files stay readable."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # Kubernetes tools expect plain documents, never anchors and aliases


_PY_RESOLVER = yaml.resolver.Resolver()


def _needs_quotes(data: str) -> bool:
    """Quote what any common reader would not read back as this string: PyYAML (YAML 1.1),
    Go's yaml.v2/sigs.k8s.io/yaml (kubectl, kustomize, Argo CD), YAML 1.2 numbers."""
    if resolves_to_non_string(data):
        return True
    tag: str = _PY_RESOLVER.resolve(yaml.ScalarNode, data, (True, False))  # type: ignore[no-untyped-call]
    return tag != "tag:yaml.org,2002:str"


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    style = None
    if "\n" in data and not data.endswith((" ", "\t")):
        style = "|"
    elif _needs_quotes(data):
        style = '"'  # "0", "true": quoted as kubectl and Go write them
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(body: dict[str, Any]) -> str:
    return yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


@functools.lru_cache(maxsize=16)
def _dump_block(key: str, inner: str, text: str) -> str:
    return _dump({key: {inner: text}})


def to_yaml(body: dict[str, Any]) -> str:
    """One object as YAML.

    Every discovery ConfigMap of a group carries the same `config.yaml`, which grows with the
    group: a 1,000-role group would render the same 140 KB block 1,000 times. libyaml emits a
    top-level mapping key by key, so when the last top-level key holds one large string we
    render that key once and append it: the bytes are exactly those of a whole dump.
    """
    last = next(reversed(body), None)
    value = body.get(last) if last is not None else None
    if last is not None and isinstance(value, dict) and len(value) == 1:
        ((inner, text),) = value.items()
        if isinstance(inner, str) and isinstance(text, str) and len(text) > 4096:
            head = {k: v for k, v in body.items() if k != last}
            return (_dump(head) if head else "") + _dump_block(last, inner, text)
    return _dump(body)


def yaml_stream(bundle: Bundle) -> str:
    return "".join(yaml_documents(bundle))


def yaml_documents(bundle: Bundle) -> Iterator[str]:
    """The stream one document at a time, so large outputs are written as they are made."""
    for i, m in enumerate(bundle.manifests):
        yield ("---\n" if i else "") + to_yaml(m.body)


def json_list(bundle: Bundle) -> str:
    """A `v1 List` like `kubectl get -o json`: `kubectl apply -f` and `jq .items[]` take it."""
    return "".join(json_documents(bundle))


def json_documents(bundle: Bundle) -> Iterator[str]:
    """The `v1 List` one item at a time: the bytes of `json.dumps(list, indent=2)`, without
    holding them all (every discovery ConfigMap repeats the group's `config.yaml`: 3,000
    roles made 2.3 GB of text). Call `json_ready` first: an error half-way would leave a
    truncated document behind."""
    if not bundle.manifests:
        yield _json({"apiVersion": "v1", "kind": "List", "items": []}) + "\n"
        return
    yield '{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [\n'
    for i, m in enumerate(bundle.manifests):
        # JSON escapes newlines inside strings, so every "\n" here is between tokens
        yield ("    " if i == 0 else ",\n    ") + _json(m.body).replace("\n", "\n    ")
    yield "\n  ]\n}\n"


def json_ready(bundle: Bundle) -> bool:
    """False when a value is NaN or infinite (YAML .nan/.inf), which JSON cannot hold."""
    stack: list[Any] = [m.body for m in bundle.manifests]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


_PLAIN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})


def file_name(manifest: Manifest) -> str:
    """A stable name per object: `{namespace}_{kind}_{name}.yaml`, the kind qualified by its API
    group outside the core groups (`podgroup.scheduling.x-k8s.io`), so that two kinds of the
    same name never share a file; cluster-scoped objects have no namespace part."""
    kind = manifest.kind.lower()
    if manifest.api_group not in _PLAIN_GROUPS:
        kind = f"{kind}.{manifest.api_group}"
    parts = [manifest.namespace] if manifest.namespace else []
    parts += [kind, manifest.name]
    return "_".join(p.replace("/", "-") for p in parts) + ".yaml"


def write_dir(bundle: Bundle, out: str | os.PathLike[str]) -> list[Path]:
    """One file per object in `out` (see `outdir.write_tree`)."""
    from rbgc.outdir import write_tree

    return write_tree(flat_files(bundle), out)


def flat_files(bundle: Bundle) -> Iterator[tuple[str, str]]:
    """(file name, text) per object, rendered one at a time."""
    for m in bundle.manifests:
        yield file_name(m), to_yaml(m.body)
