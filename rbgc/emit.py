"""Writing the bundle: a YAML stream, a JSON `List`, or one file per object.

Output is byte-identical for the same input: objects come sorted (wave, Argo CD kind order,
kind, namespace, name, input position), generated objects are built in Kubernetes' key order
(apiVersion, kind, metadata, spec), pass-through documents keep the user's order exactly,
and nothing depends on time, hash seeds or the order files were given in.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from rbgc.bundle import Bundle
from rbgc.k8s.goyaml import resolves_to_non_string
from rbgc.k8s.manifest import Manifest

if TYPE_CHECKING:
    from pathlib import Path

OUTPUT_MARKER = ".rbgc-output"


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
    doc = {"apiVersion": "v1", "kind": "List", "items": [m.body for m in bundle.manifests]}
    # NaN and Infinity (YAML .nan/.inf) are not JSON: refuse rather than print invalid JSON
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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


class OutputDirError(Exception):
    pass


def write_dir(bundle: Bundle, out: str | os.PathLike[str]) -> list[Path]:
    """One file per object in `out` (see `write_tree`)."""
    return write_tree(flat_files(bundle), out)


def flat_files(bundle: Bundle) -> dict[str, str]:
    return {file_name(m): to_yaml(m.body) for m in bundle.manifests}


def write_tree(files: Mapping[str, str], out: str | os.PathLike[str]) -> list[Path]:
    """Replace the YAML files of an rbgc output folder with `files` (relative path -> text).

    All or nothing: everything is written to a staging folder first. A folder that exists, is
    not empty and was not written by rbgc is refused: rbgc never deletes files it did not create.
    """
    from pathlib import Path

    target = Path(out)
    _check_owned(target)
    target.mkdir(parents=True, exist_ok=True)
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=".rbgc-", dir=target))
    try:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8")
        for old in _owned(target):
            old.unlink()
        for folder in sorted(_folders(target), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        written = []
        for name in sorted(files):
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, dest)
            written.append(dest)
        (target / OUTPUT_MARKER).write_text(
            "Written by `rbgc build --out`; rbgc replaces the *.yaml files here.\n",
            encoding="utf-8",
        )
        return written
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def stale_files(files: Mapping[str, str], out: str | os.PathLike[str]) -> list[str]:
    """What `write_tree(files, out)` would change, as `+ new`, `- removed`, `~ changed` lines."""
    from pathlib import Path

    target = Path(out)
    have = {p.relative_to(target).as_posix(): p for p in _owned(target)} if target.is_dir() else {}
    changes = []
    for name in sorted(set(files) | set(have)):
        if name not in have:
            changes.append(f"+ {name}")
        elif name not in files:
            changes.append(f"- {name}")
        elif have[name].read_text(encoding="utf-8") != files[name]:
            changes.append(f"~ {name}")
    return changes


def _check_owned(target: Path) -> None:
    if target.exists():
        if not target.is_dir():
            raise OutputDirError(f"{target} exists and is not a directory")
        if any(target.iterdir()) and not (target / OUTPUT_MARKER).exists():
            raise OutputDirError(
                f"{target} is not empty and was not written by rbgc; refusing to replace its files"
            )


def _folders(target: Path) -> Iterable[Path]:
    return (p for p in target.rglob("*") if p.is_dir() and not _hidden(p, target))


def _owned(target: Path) -> Iterable[Path]:
    return sorted(p for p in target.rglob("*.yaml") if p.is_file() and not _hidden(p, target))


def _hidden(path: Path, target: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(target).parts)
