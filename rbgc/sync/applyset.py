"""What rbgc owns in a cluster, recorded as a Kubernetes ApplySet (KEP-3659), as data. Pure.

One ApplySet per group (RoleBasedGroup): its parent is a ConfigMap `rbgc-applyset-<group>` in
the group's namespace, and every object rbgc applies for the group carries the label
`applyset.kubernetes.io/part-of: <id>`. Per group, not per `sync` invocation, because a group
is the unit rbgc plans, locks and resumes, and because a sync of one file must not make the
groups of another file look removed.

The keys and formats are the ones `kubectl apply --applyset=configmaps/NAME --prune` writes:

    parent labels       applyset.kubernetes.io/id: applyset-<base64url(sha256(
                            "<name>.<namespace>.ConfigMap."))>-v1   (no padding)
    parent annotations  applyset.kubernetes.io/tooling: rbgc/<version>
                        applyset.kubernetes.io/contains-group-kinds: ConfigMap,StatefulSet.apps
                        applyset.kubernetes.io/additional-namespaces: (other namespaces, or "")
    member labels       applyset.kubernetes.io/part-of: <the parent's id>

A ConfigMap rather than kubectl's default Secret: rbgc then needs no access to Secrets. The
parent also carries `rbgc.io/kinds` (the apiVersion of each member kind: the KEP annotation has
none, and a kind that left the inputs must still be listed to be pruned) and `rbgc.io/group`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rbgc import __version__
from rbgc.k8s.conventions import MANAGED_BY, MANAGER
from rbgc.sync.cluster import FIELD_MANAGER, Object, Ref

ID = "applyset.kubernetes.io/id"
PART_OF = "applyset.kubernetes.io/part-of"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
KINDS = "rbgc.io/kinds"
GROUP = "rbgc.io/group"
PARENT_API_VERSION = "v1"
PARENT_KIND = "ConfigMap"
NEVER_DELETED = frozenset({"PersistentVolumeClaim"})  # data outlives every sync and prune

Kind = tuple[str, str]  # (apiVersion, kind)


def parent_name(group: str) -> str:
    return f"rbgc-applyset-{group}"


def applyset_id(name: str, namespace: str, kind: str = PARENT_KIND, group: str = "") -> str:
    """KEP-3659's id of a parent: base64url (unpadded) of sha256("name.namespace.kind.group")."""
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def group_kind(api_version: str, kind: str) -> str:
    """`StatefulSet.apps`, `ConfigMap` (the core group has no suffix)."""
    group = api_version.rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplySet:
    """One group's ApplySet: where its parent is, its id, the kinds its members have."""

    group: str
    namespace: str
    kinds: frozenset[Kind] = frozenset()
    namespaces: frozenset[str] = frozenset()  # additional ones, besides the parent's
    exists: bool = False  # the parent is in the cluster

    @property
    def name(self) -> str:
        return parent_name(self.group)

    @property
    def id(self) -> str:
        return applyset_id(self.name, self.namespace)

    @property
    def ref(self) -> Ref:
        return Ref(PARENT_API_VERSION, PARENT_KIND, self.namespace, self.name)

    def owns(self, body: Mapping[str, Any]) -> bool:
        labels = (body.get("metadata") or {}).get("labels") or {}
        return bool(labels.get(PART_OF) == self.id)

    def parent(
        self,
        kinds: Iterable[Kind],
        namespaces: Iterable[str] = (),
        *,
        annotations: Mapping[str, str] | None = None,
        binary: Mapping[str, str] | None = None,
    ) -> Object:
        """The parent object recording `kinds` (and members in `namespaces`), with rbgc's
        own `annotations` and `binaryData` (an upgrade in progress: resume.py)."""
        kinds = sorted(set(kinds))
        extra = sorted(set(namespaces) - {self.namespace, ""})
        body: Object = {
            "apiVersion": PARENT_API_VERSION,
            "kind": PARENT_KIND,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID: self.id, MANAGED_BY: MANAGER},
                "annotations": {
                    TOOLING: f"rbgc/v{__version__}",
                    GROUP_KINDS: ",".join(sorted({group_kind(*k) for k in kinds})),
                    NAMESPACES: ",".join(extra),
                    KINDS: json.dumps([list(k) for k in kinds], separators=(",", ":")),
                    GROUP: self.group,
                    **(annotations or {}),
                },
            },
        }
        if binary:
            body["binaryData"] = dict(binary)
        return body


def from_parent(body: Mapping[str, Any]) -> ApplySet | None:
    """The ApplySet a live parent records; None when it is no rbgc parent (or a forged one:
    its id label must be the id of its own name and namespace, as kubectl checks)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    notes = meta.get("annotations") or {}
    group = notes.get(GROUP)
    if (
        body.get("kind") != PARENT_KIND
        or not group
        or not str(notes.get(TOOLING, "")).startswith("rbgc/")
    ):
        return None
    found = ApplySet(group=str(group), namespace=str(meta.get("namespace") or ""), exists=True)
    if labels.get(ID) != found.id or meta.get("name") != found.name:
        return None
    try:
        listed = json.loads(notes.get(KINDS) or "[]")
    except ValueError:
        listed = []
    kinds = frozenset((str(k[0]), str(k[1])) for k in listed if isinstance(k, list) and len(k) == 2)
    namespaces = frozenset(n for n in str(notes.get(NAMESPACES) or "").split(",") if n)
    return ApplySet(
        group=found.group,
        namespace=found.namespace,
        kinds=kinds,
        namespaces=namespaces,
        exists=True,
    )


def label_managers(body: Mapping[str, Any]) -> list[str] | None:
    """The field managers that own the object's `applyset.kubernetes.io/part-of` label, as
    its `metadata.managedFields` say; None when it shows no managed fields at all."""
    entries = (body.get("metadata") or {}).get("managedFields")
    if not isinstance(entries, list) or not entries:
        return None
    out = []
    for entry in entries:
        fields = entry.get("fieldsV1") if isinstance(entry, Mapping) else None
        labels = ((fields or {}).get("f:metadata") or {}).get("f:labels") or {}
        if f"f:{PART_OF}" in labels:
            out.append(str(entry.get("manager", "")))
    return sorted(set(out))


def prune_reason(body: Mapping[str, Any], group: str) -> tuple[bool, str]:
    """Whether --prune may delete a member of `group` that left the inputs, and why: only what
    rbgc applied, which its field manager's ownership of the part-of label shows (another
    tool, or a person, may have copied the label onto an object of their own)."""
    managers = label_managers(body)
    if managers is None:
        return False, (
            f"it carries group {group}'s {PART_OF} label but shows no managed fields, so "
            "nothing proves rbgc applied it: not pruned (delete it yourself if it is rbgc's)"
        )
    if FIELD_MANAGER in managers:
        return True, (
            f"rbgc applied it (field manager {FIELD_MANAGER} owns its {PART_OF} label) and "
            f"group {group}'s inputs no longer have it"
        )
    listed = ", ".join(repr(m) for m in managers) or "no field manager"
    return False, (
        f"it carries group {group}'s {PART_OF} label, but {listed} wrote that, not rbgc: not pruned"
    )


def member(body: Mapping[str, Any], applyset: ApplySet) -> Object:
    """`body` labelled as a member of `applyset`."""
    out = copy.deepcopy(dict(body))
    labels = out.setdefault("metadata", {}).setdefault("labels", {})
    labels[PART_OF] = applyset.id
    return out
