"""The v1alpha1 <-> v1alpha2 field mapping, as upstream's conversion webhook does it.

Source: `api/workloads/v1alpha1/rolebasedgroup_conversion.go` and
`rolebasedgroupset_conversion.go` at v0.8.0-alpha.5 (semantics file §7). The functions edit a
document in place (a ruamel.yaml round-trip tree, or plain dicts in tests): keys are renamed
and moved where they stood, so a human's file keeps its shape. They never raise on bad input;
they return `Finding`s (errors refuse the document, warnings say what upstream's conversion
drops or changes) located at paths of the document as it was read.

Where rbgc writes less than the webhook stores, the difference is a default the target
version's CRD fills in identically (`restartPolicyConfig: {}`, `workload: apps/v1
StatefulSet`, `scheduleTimeoutSeconds: 60`, `progression: OrderScheduled` on the way back),
so the object the API server ends up with is the same. One deliberate difference: going back
to v1alpha1, the `role-workload-type` annotation that became `workload` is removed (the
webhook leaves it in the v1alpha1 view, where rbgc would copy it onto the workload).
"""

from __future__ import annotations

import copy
import json
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

V1 = "workloads.x-k8s.io/v1alpha1"
V2 = "workloads.x-k8s.io/v1alpha2"
P = "rbg.workloads.x-k8s.io/"
OLD_P = "rolebasedgroup.workloads.x-k8s.io/"
WORKLOAD_TYPE = P + "role-workload-type"
STASH_PGP = "conversion.workloads.x-k8s.io/v1alpha1-pod-group-policy"
STASH_COORD = "conversion.workloads.x-k8s.io/v1alpha1-coordination"
GANG = P + "group-gang-scheduling"
GANG_TIMEOUT = GANG + "-timeout"
GANG_QUEUE = GANG + "-volcano-queue"
GANG_PRIORITY = GANG + "-volcano-priority"
GANG_KEYS = (GANG, GANG_TIMEOUT, GANG_QUEUE, GANG_PRIORITY)
EXCLUSIVE_V1 = OLD_P + "exclusive-topology"
EXCLUSIVE_V2 = P + "group-exclusive-topology"
DISABLE_EXCLUSIVE_V1 = OLD_P + "disable-exclusive-topology"
DISABLE_EXCLUSIVE_V2 = P + "role-disable-exclusive"
# removeConversionAnnotations: what ConvertFrom strips from the v1alpha1 view
CONVERSION_ONLY = (STASH_PGP, STASH_COORD, *GANG_KEYS, EXCLUSIVE_V2)

STATEFULSET = ("apps/v1", "StatefulSet")  # the v1alpha1 CRD's default workload
ROLE_INSTANCE_SET = ("workloads.x-k8s.io/v1alpha2", "RoleInstanceSet")
DEFAULT_TIMEOUT = 60  # v1alpha1 CRD default of kubeScheduling.scheduleTimeoutSeconds
DEFAULT_PROGRESSION = "OrderScheduled"  # v1alpha1 CRD default of scaling.progression
DEFAULT_DELAYS = {"baseDelaySeconds": 30, "maxDelaySeconds": 600}

# Kinds whose schema is the same in both versions (no conversion webhook): only apiVersion.
SAME_SCHEMA = ("ClusterEngineRuntimeProfile", "RoleBasedGroupScalingAdapter")
CONVERTIBLE = ("RoleBasedGroup", "RoleBasedGroupSet", *SAME_SCHEMA)
ONLY_V2 = ("CoordinatedPolicy", "RoleInstanceSet", "RoleInstance", "RoleBasedGroupWarmup")

CANNOT = "RBG720"  # error: upstream would refuse the input, or it is malformed
LOSSY = "RBG721"  # error: the v1alpha2 document holds what v1alpha1 cannot
DROPPED = "RBG722"  # warning: upstream's conversion drops or changes something

JsonPath = tuple[str | int, ...]
Map = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class Finding:
    """A refusal or a loss, at a path of the document as it was read."""

    jpath: JsonPath
    code: str
    message: str
    help: str | None = None
    error: bool = False
    key: bool = False


class Findings(list[Finding]):
    def error(
        self, jpath: JsonPath, code: str, message: str, help: str | None = None, key: bool = True
    ) -> None:
        self.append(Finding(jpath, code, message, help, error=True, key=key))

    def warn(
        self, jpath: JsonPath, message: str, help: str | None = None, key: bool = True
    ) -> None:
        self.append(Finding(jpath, DROPPED, message, help, key=key))


# ---------------------------------------------------------------------------------------------
# Ordered-mapping edits that keep comments with their keys
# ---------------------------------------------------------------------------------------------


def _index(m: Map, key: str) -> int:
    return list(m).index(key)


def _insert(m: Map, index: int, key: str, value: Any) -> None:
    if isinstance(m, CommentedMap):
        m.insert(index, key, value)
        return
    items = list(m.items())
    items.insert(index, (key, value))
    m.clear()
    m.update(items)


def _comment(m: Map, key: str) -> Any:
    return m.ca.items.pop(key, None) if isinstance(m, CommentedMap) else None


def _set_comment(m: Map, key: str, comment: Any) -> None:
    if comment is not None and isinstance(m, CommentedMap):
        m.ca.items[key] = comment


def _pop(m: Map, key: str) -> Any:
    """Remove `key`; the comment lines that followed its value go to the key before it."""
    index = _index(m, key)
    comment = _comment(m, key)
    value = m.pop(key)
    trailing = _trailing_comment(value) or comment
    if trailing is not None and index > 0 and isinstance(m, CommentedMap):
        before = list(m)[index - 1]
        if before not in m.ca.items and not isinstance(m[before], dict | list):
            m.ca.items[before] = trailing
    return value


def _trailing_comment(value: Any) -> Any:
    """The comment entry ruamel keeps on the last scalar of a nested value (lines after it)."""
    while isinstance(value, CommentedMap | CommentedSeq) and len(value):
        last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        inner = value[last]
        if not isinstance(inner, CommentedMap | CommentedSeq) or not len(inner):
            entry = value.ca.items.pop(last, None)
            return entry
        value = inner
    return None


# The document's mapping indent: a value moved one level deeper or shallower has its
# comments moved by this many columns, so they stay where they were relative to it.
_indent = 2


def _shift(node: Any, levels: int, seen: set[int] | None = None) -> None:
    """Move the comments inside `node` (and `node` itself, if it is a comment entry)."""
    seen = set() if seen is None else seen
    if not levels or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, CommentToken):
        mark = getattr(node, "start_mark", None)
        if mark is not None and hasattr(mark, "column"):
            mark = copy.copy(mark)
            mark.column = max(mark.column + levels * _indent, 0)
            node.start_mark = mark
    elif isinstance(node, list | tuple) and not isinstance(node, CommentedSeq):
        for item in node:
            _shift(item, levels, seen)
    if isinstance(node, CommentedMap | CommentedSeq):
        _shift(node.ca.comment, levels, seen)
        for entry in node.ca.items.values():
            _shift(entry, levels, seen)
        for item in node.values() if isinstance(node, CommentedMap) else node:
            _shift(item, levels, seen)


def _reset_column(entry: Any) -> None:
    for token in entry if isinstance(entry, list) else [entry]:
        if isinstance(token, CommentToken) and getattr(token, "start_mark", None) is not None:
            mark = copy.copy(token.start_mark)
            mark.column = 0
            token.start_mark = mark


def _comment_lines(node: Any, skip: Any = None) -> list[str]:
    """The text of every comment inside `node` (a value, or a key's comment entry), but
    `skip` (a token ruamel may reference from two places)."""
    tokens: list[CommentToken] = []
    seen: set[int] = {id(skip)} if skip is not None else set()

    def walk(item: Any) -> None:
        if id(item) in seen:
            return
        seen.add(id(item))
        if isinstance(item, CommentToken):
            tokens.append(item)
        elif isinstance(item, list | tuple) and not isinstance(item, CommentedSeq):
            for part in item:
                walk(part)
        if isinstance(item, CommentedMap | CommentedSeq):
            walk(item.ca.comment)
            for entry in item.ca.items.values():
                walk(entry)
            for part in item.values() if isinstance(item, CommentedMap) else item:
                walk(part)

    walk(node)
    lines = []
    for token in tokens:
        for line in token.value.splitlines():
            line = line.strip()
            if line.startswith("#"):
                lines.append(line[2:] if line.startswith("# ") else line[1:])
    return lines


def _remove_moving_comments(m: Map, key: str) -> list[str]:
    """Remove `key` from `m`, returning the comments inside its value (they travel with it
    to where the value goes); comment lines after its last line stay above the next key."""
    entry = _trailing_comment(m[key])
    token = entry[2] if isinstance(entry, list) and len(entry) > 2 else None
    lines = _comment_lines(m[key], skip=token)
    after: list[str] = []
    indent = 0
    if isinstance(token, CommentToken):
        first, _, rest = token.value.partition("\n")
        lines += _comment_lines(CommentToken(first, column=0))
        after = _comment_lines(CommentToken(rest, column=0))
        indent = len(rest) - len(rest.lstrip(" "))
    _comment(m, key)  # the key's own entry repeats the value's first comment
    index = _index(m, key)
    del m[key]
    if after and isinstance(m, CommentedMap) and index < len(m):
        m.yaml_set_comment_before_after_key(list(m)[index], before="\n".join(after), indent=indent)
    return lines


def _take_comment_before(parent: Map, name: str, key: str) -> list[str]:
    """Remove and return the comment lines just above `key` in `parent[name]` (ruamel keeps
    them on the key before it, or, above the first key, at the start of the mapping)."""
    m = parent.get(name)
    if not isinstance(m, CommentedMap) or key not in m:
        return []
    index = _index(m, key)
    if index == 0:
        lines = _comment_lines(m.ca.comment)
        if m.ca.comment:
            m.ca.comment[1] = None
        entry = parent.ca.items.get(name) if isinstance(parent, CommentedMap) else None
        if entry and len(entry) > 3:
            entry[3] = None  # ruamel's second reference to the same comments
        return lines
    entry = m.ca.items.get(list(m)[index - 1])
    token = entry[2] if entry and len(entry) > 2 else None
    if not isinstance(token, CommentToken) or "\n" not in token.value.rstrip("\n"):
        return []
    first, rest = token.value.split("\n", 1)
    token.value = first + "\n"
    return _comment_lines(CommentToken(rest, column=0))


def _move(src: Map, key: str, dst: Map, new_key: str | None = None, levels: int = 0) -> None:
    """Move `key` with its value and comment from `src` to the end of `dst`, `levels`
    deeper (negative: shallower)."""
    comment = _comment(src, key)
    dst[new_key or key] = src.pop(key)
    _set_comment(dst, new_key or key, comment)
    seen: set[int] = set()  # ruamel keeps some comments both on the key and in its value
    _shift(comment, levels, seen)
    _shift(dst[new_key or key], levels, seen)


def _rename(m: Map, old: str, new: str, value: Any = None) -> None:
    """Rename `old` to `new` in place (optionally with a new value), keeping its comment."""
    index = _index(m, old)
    comment = _comment(m, old)
    current = m.pop(old)
    _insert(m, index, new, current if value is None else value)
    _set_comment(m, new, comment)


def _new_map() -> Map:
    return CommentedMap()


def _same_style(old: Any, new: str) -> str:
    return type(old)(new) if isinstance(old, ScalarString) else new


def _annotation(value: str) -> str:
    """Annotation values that YAML would read as another type are double-quoted."""
    if value in ("true", "false") or value.isdigit():
        quoted: str = DoubleQuotedScalarString(value)
        return quoted
    return value


def _present(m: Any, key: str) -> bool:
    return isinstance(m, dict) and m.get(key) is not None


def _map(value: Any) -> Map:
    return value if isinstance(value, MutableMapping) else {}


def go_json(value: Any) -> str:
    """`json.Marshal` of Go: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _annotations_of(meta: Map) -> Map:
    """metadata.annotations, created at the end of metadata when absent."""
    if not isinstance(meta.get("annotations"), MutableMapping):
        if isinstance(meta, CommentedMap) and meta.fa.flow_style():
            meta.fa.set_block_style()  # `metadata: {name: x}` grows a block of annotations
        meta["annotations"] = _new_map()
    annotations: Map = meta["annotations"]
    return annotations


# ---------------------------------------------------------------------------------------------
# podGroupPolicy and coordination: stashed in annotations as upstream's Go structs marshal
# ---------------------------------------------------------------------------------------------


def pod_group_policy_value(policy: Map) -> dict[str, Any]:
    """The v1alpha1 PodGroupPolicy after CRD defaulting, in Go struct field order."""
    out: dict[str, Any] = {}
    if _present(policy, "kubeScheduling"):
        kube = _map(policy["kubeScheduling"])
        timeout = kube.get("scheduleTimeoutSeconds", DEFAULT_TIMEOUT)
        out["kubeScheduling"] = {} if timeout is None else {"scheduleTimeoutSeconds": int(timeout)}
    if _present(policy, "volcanoScheduling"):
        volcano = _map(policy["volcanoScheduling"])
        out["volcanoScheduling"] = {
            k: str(volcano[k]) for k in ("priorityClassName", "queue") if volcano.get(k)
        }
    return out


def gang_annotations(policy: dict[str, Any]) -> dict[str, str]:
    """What preserveV1alpha1Fields translates a PodGroupPolicy into (kube wins over volcano)."""
    out: dict[str, str] = {}
    if "kubeScheduling" in policy:
        out[GANG] = "true"
        if "scheduleTimeoutSeconds" in policy["kubeScheduling"]:
            out[GANG_TIMEOUT] = str(policy["kubeScheduling"]["scheduleTimeoutSeconds"])
    elif "volcanoScheduling" in policy:
        out[GANG] = "true"
        volcano = policy["volcanoScheduling"]
        if volcano.get("queue"):
            out[GANG_QUEUE] = volcano["queue"]
        if volcano.get("priorityClassName"):
            out[GANG_PRIORITY] = volcano["priorityClassName"]
    return out


def coordination_value(rules: Sequence[Any]) -> list[dict[str, Any]]:
    """The v1alpha1 coordination list after CRD defaulting, in Go struct field order."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        rule = _map(rule)
        item: dict[str, Any] = {"name": rule.get("name", "")}
        roles = rule.get("roles")
        item["roles"] = None if roles is None else [str(r) for r in roles]
        if _present(rule, "strategy"):
            strategy = _map(rule["strategy"])
            value: dict[str, Any] = {}
            if _present(strategy, "rollingUpdate"):
                rolling = _map(strategy["rollingUpdate"])
                value["rollingUpdate"] = {
                    k: rolling[k]
                    for k in ("maxSkew", "partition", "maxUnavailable")
                    if rolling.get(k) is not None
                }
            if _present(strategy, "scaling"):
                scaling = _map(strategy["scaling"])
                scale: dict[str, Any] = {}
                if scaling.get("maxSkew") is not None:
                    scale["maxSkew"] = scaling["maxSkew"]
                scale["progression"] = scaling.get("progression") or DEFAULT_PROGRESSION
                value["scaling"] = scale
            item["strategy"] = value
        out.append(item)
    return out


# ---------------------------------------------------------------------------------------------
# v1alpha1 -> v1alpha2
# ---------------------------------------------------------------------------------------------


def to_v1alpha2(doc: Map, indent: int = 2) -> Findings:
    """Convert one v1alpha1 document in place (the caller checked kind and apiVersion)."""
    global _indent
    _indent = indent
    found = Findings()
    kind = doc["kind"]
    doc["apiVersion"] = _same_style(doc["apiVersion"], V2)
    if kind in SAME_SCHEMA:
        return found
    meta = _map(doc.get("metadata"))
    spec = _map(doc.get("spec"))
    if kind == "RoleBasedGroup":
        notes: dict[str, list[str]] = {}
        additions = _group_to_v2(spec, ("spec",), meta, found, notes)
        _annotate(meta, additions, notes)
    else:  # RoleBasedGroupSet
        template = _map(spec.get("template"))
        notes = {}
        additions = _group_to_v2(template, ("spec", "template"), meta, found, notes)
        _annotate(meta, additions, notes)
        group_template = _new_map()
        if STASH_COORD in additions:
            # so each child group gets it and creates its CoordinatedPolicy
            group_template["annotations"] = _new_map()
            group_template["annotations"][STASH_COORD] = additions[STASH_COORD]
        group_template["spec"] = template
        _shift(template, 1)
        if "template" in spec:
            _rename(spec, "template", "groupTemplate", group_template)
        reaches_children = [k for k in (GANG, EXCLUSIVE_V2) if k in additions]
        if reaches_children:
            found.warn(
                ("metadata", "annotations", EXCLUSIVE_V1)
                if EXCLUSIVE_V2 in reaches_children
                else ("spec", "template", "podGroupPolicy"),
                "upstream's RoleBasedGroupSet controller copies only spec.groupTemplate's "
                "annotations to its groups, so the converted "
                + " and ".join(
                    "gang scheduling" if k == GANG else "exclusive topology"
                    for k in reaches_children
                )
                + " no longer reaches them",
                help="also write "
                + ", ".join(f"`{k}`" for k in reaches_children)
                + " under spec.groupTemplate.annotations",
            )
    return found


def _annotate(meta: Map, additions: dict[str, str], notes: dict[str, list[str]]) -> None:
    if not additions:
        return
    annotations = _annotations_of(meta)
    for key, lines in notes.items():
        if lines and key in additions and isinstance(annotations, CommentedMap):
            annotations[key] = additions[key]
            annotations.yaml_set_comment_before_after_key(
                key, before="\n".join(lines), indent=2 * _indent
            )
    for key, value in additions.items():
        if key == EXCLUSIVE_V2 and EXCLUSIVE_V1 in annotations and key not in annotations:
            styled = _same_style(annotations[EXCLUSIVE_V1], value)
            _insert(annotations, _index(annotations, EXCLUSIVE_V1) + 1, key, styled)
        else:
            annotations[key] = _annotation(value)


def _group_to_v2(
    spec: Map, at: JsonPath, meta: Map, found: Findings, notes: dict[str, list[str]]
) -> dict[str, str]:
    """Convert a group spec in place; return the annotations preserveV1alpha1Fields adds.

    `notes` receives the comments written inside podGroupPolicy and coordination, by the
    annotation that now holds them."""
    additions: dict[str, str] = {}
    annotations = _map(meta.get("annotations"))
    exclusive = annotations.get(EXCLUSIVE_V1)
    if exclusive is not None:
        additions[EXCLUSIVE_V2] = str(exclusive)
    if _present(spec, "podGroupPolicy"):
        policy = pod_group_policy_value(_map(spec["podGroupPolicy"]))
        additions[STASH_PGP] = go_json(policy)
        additions.update(gang_annotations(policy))
        if "volcanoScheduling" in policy and "kubeScheduling" not in policy:
            found.warn(
                (*at, "podGroupPolicy", "volcanoScheduling"),
                "upstream's v1alpha2 operator creates the PodGroup kind of its "
                "--scheduler-name flag (scheduler-plugins by default), not Volcano's because "
                "the group asks for it",
                help="run the operator with --scheduler-name=volcano",
            )
    if "podGroupPolicy" in spec:
        notes[STASH_PGP] = _remove_moving_comments(spec, "podGroupPolicy")
    rules = spec.get("coordination")
    if isinstance(rules, list) and rules:
        additions[STASH_COORD] = go_json(coordination_value(rules))
        name = meta.get("name", "")
        found.warn(
            (*at, "coordination"),
            "upstream's operator turns the stashed coordination into a CoordinatedPolicy "
            f"{name!r} whose rules have no name, which the API server refuses (and it drops "
            "progression OrderReady): the group's reconcile then fails",
            help=f"write a CoordinatedPolicy named {name!r} (same namespace) with these rules, "
            "and remove the conversion.workloads.x-k8s.io/v1alpha1-coordination annotation",
        )
    if "coordination" in spec:
        notes[STASH_COORD] = _remove_moving_comments(spec, "coordination")
    opt_out_matters = exclusive is not None
    for i, template in enumerate(spec.get("roleTemplates") or ()):
        if opt_out_matters:
            _warn_opt_out(_map(template).get("template"), (*at, "roleTemplates", i), found)
        _warn_old_env(template, (*at, "roleTemplates", i), found)
    for i, role in enumerate(spec.get("roles") or ()):
        if isinstance(role, MutableMapping):
            _role_to_v2(role, (*at, "roles", i), found, opt_out_matters)
    return additions


_OLD_ENV = {
    "GROUP_NAME": "RBG_GROUP_NAME",
    "ROLE_NAME": "RBG_ROLE_NAME",
    "ROLE_INDEX": "RBG_ROLE_INDEX",
}


def _warn_old_env(value: Any, at: JsonPath, found: Findings) -> None:
    """The first `$(GROUP_NAME)`-style reference: the v0.8 operator defines RBG_* instead."""
    if isinstance(value, str):
        for old, new in _OLD_ENV.items():
            if f"$({old})" in value:
                found.warn(
                    at,
                    f"$({old}) is not defined by upstream's v1alpha2 operator, which injects "
                    f"{new} instead (the conversion does not rename references)",
                    help=f"write $({new}) once the group runs on upstream's v0.7+ operator",
                    key=False,
                )
                return
    elif isinstance(value, dict):
        for key, item in value.items():
            _warn_old_env(item, (*at, key), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _warn_old_env(item, (*at, i), found)


def _warn_opt_out(template: Any, at: JsonPath, found: Findings) -> None:
    annotations = _map(_map(_map(template).get("metadata")).get("annotations"))
    if DISABLE_EXCLUSIVE_V1 in annotations:
        found.warn(
            (*at, "template", "metadata", "annotations", DISABLE_EXCLUSIVE_V1),
            f"upstream's v1alpha2 operator ignores {DISABLE_EXCLUSIVE_V1} (its conversion does "
            "not translate it), so these pods join the exclusive topology",
            help=f'add `{DISABLE_EXCLUSIVE_V2}: "true"` next to it',
        )


def _role_to_v2(role: Map, at: JsonPath, found: Findings, opt_out_matters: bool) -> None:
    name = role.get("name", "")
    workload = _map(role.get("workload"))
    api = workload.get("apiVersion") or STATEFULSET[0]
    kind = workload.get("kind") or STATEFULSET[1]
    restart = role.get("restartPolicy") or ""
    lws = _present(role, "leaderWorkerSet")
    components = role.get("components") or []
    has_template, has_ref = _present(role, "template"), _present(role, "templateRef")
    errors_before = len([f for f in found if f.error])
    for key in ("template", "templatePatch", "leaderWorkerSet", "components"):
        _warn_old_env(role.get(key), (*at, key), found)

    # The HEAD v1alpha1 CRD's CEL rules: the API server refuses these before converting.
    if has_template and has_ref:
        found.error(
            (*at, "templateRef"),
            CANNOT,
            f"role {name!r}: `template` and `templateRef` are mutually exclusive",
            help="keep one: a template, or a role template plus `templatePatch`",
        )
    if has_ref and kind in ("LeaderWorkerSet", "InstanceSet"):
        found.error(
            (*at, "templateRef"),
            CANNOT,
            f"role {name!r}: upstream's v1alpha1 schema refuses `templateRef` for {kind} workloads",
            help="write the pod template inline under `template`",
        )
    if not has_template and not has_ref and kind != "InstanceSet":
        found.error(
            at,
            CANNOT,
            f"role {name!r} has neither `template` nor `templateRef`",
            help="add the role's pod template",
            key=False,
        )
    if restart == "RecreateRBGOnPodRestart" and (lws or components):
        found.error(
            (*at, "restartPolicy"),
            CANNOT,
            f"role {name!r}: restartPolicy RecreateRBGOnPodRestart was removed upstream "
            "(v1alpha2 restarts one instance, not the whole group)",
            help="use RecreateRoleInstanceOnPodRestart (restart the failed instance) or None",
        )
    if opt_out_matters:
        for key in ("template", "templatePatch"):
            if key == "template":
                _warn_opt_out(role.get(key), at, found)
            elif _present(role, key):
                _warn_opt_out({"metadata": _map(role[key]).get("metadata")}, at, found)
    if len([f for f in found if f.error]) > errors_before:
        return

    # workload -> the role-workload-type annotation (a comment after it goes along)
    tail = _trailing_comment(role.get("workload"))
    if not isinstance(role.get("annotations"), MutableMapping):
        if "annotations" in role:
            del role["annotations"]  # `annotations: null`
        if "workload" in role:
            _rename(role, "workload", "annotations", _new_map())
        else:
            after = "labels" if "labels" in role else "name"
            _insert(
                role, _index(role, after) + 1 if after in role else 0, "annotations", _new_map()
            )
    role["annotations"][WORKLOAD_TYPE] = f"{api}/{kind}"
    if tail is not None and WORKLOAD_TYPE not in role["annotations"].ca.items:
        role["annotations"].ca.items[WORKLOAD_TYPE] = tail
    if "workload" in role:
        _pop(role, "workload")

    # templatePatch joins templateRef as `patch`; without one, upstream drops it
    ccp = bool(components) and not lws
    if "templatePatch" in role and not ccp:
        if role["templatePatch"] is None:
            _pop(role, "templatePatch")
        elif not has_ref:
            found.warn(
                (*at, "templatePatch"),
                f"role {name!r}: `templatePatch` without `templateRef` is dropped by upstream's "
                "conversion (it patches nothing)",
                help="remove it, or add the `templateRef` it was meant for",
            )
            _pop(role, "templatePatch")
        else:
            _move(role, "templatePatch", _map(role["templateRef"]), "patch", levels=1)
    sources = [k for k in role if k in ("template", "templateRef", "leaderWorkerSet")]

    if lws:
        if components:
            found.warn(
                (*at, "components"),
                f"role {name!r}: `components` is ignored next to `leaderWorkerSet` and dropped "
                "by upstream's conversion",
                help="remove it",
            )
            _pop(role, "components")
        pattern = _new_map()
        index = min(_index(role, k) for k in sources)
        for key in sources:
            if key == "leaderWorkerSet":
                spec = role.pop("leaderWorkerSet")
                _comment(role, "leaderWorkerSet")
                for old, new in (
                    ("size", "size"),
                    ("patchLeaderTemplate", "leaderTemplatePatch"),
                    ("patchWorkerTemplate", "workerTemplatePatch"),
                ):
                    if _present(spec, old):
                        _move(spec, old, pattern, new)
            else:
                _move(role, key, pattern, levels=1)
        if restart:
            config = _new_map()
            config["type"] = restart
            pattern["restartPolicyConfig"] = config
        _insert(role, index, "leaderWorkerPattern", pattern)
    elif components:
        if "leaderWorkerSet" in role:  # `leaderWorkerSet: null`
            del role["leaderWorkerSet"]
        for key in ("template", "templateRef", "templatePatch"):
            if key in role:
                found.warn(
                    (*at, key),
                    f"role {name!r}: `{key}` is dropped by upstream's conversion for a role "
                    "with `components` (each component has its own template)",
                    help="remove it",
                )
                _pop(role, key)
        index = _index(role, "components")
        pattern = _new_map()
        comment = _comment(role, "components")
        pattern["components"] = role.pop("components")
        _set_comment(pattern, "components", comment)
        seen: set[int] = set()
        _shift(comment, 1, seen)
        _shift(pattern["components"], 1, seen)
        for j, component in enumerate(pattern["components"]):
            _component_to_v2(_map(component), (*at, "components", j), name, found)
        if restart:
            config = _new_map()
            config["type"] = restart
            pattern["restartPolicyConfig"] = config
        _insert(role, index, "customComponentsPattern", pattern)
    else:
        if "leaderWorkerSet" in role:  # `leaderWorkerSet: null`
            del role["leaderWorkerSet"]
        if "components" in role:  # `components: []`
            _pop(role, "components")
        pattern = _new_map()
        index = min((_index(role, k) for k in sources), default=len(role))
        for key in sources:
            _move(role, key, pattern, levels=1)
        _insert(role, index, "standalonePattern", pattern)
        if restart and restart != "None":
            found.warn(
                (*at, "restartPolicy"),
                f"role {name!r}: upstream's conversion drops restartPolicy {restart} (a v1alpha2 "
                "standalone role never restarts other pods when one fails)",
                help="remove it; a leaderWorkerSet role keeps it as restartPolicyConfig.type",
            )
    if "restartPolicy" in role:
        _pop(role, "restartPolicy")


def _component_to_v2(component: Map, at: JsonPath, role: str, found: Findings) -> None:
    for key in list(component):
        if key not in ("name", "size", "serviceName", "template"):
            found.warn(
                (*at, key),
                f"role {role!r}: component field `{key}` does not exist in upstream's schema "
                "and is dropped",
                help="remove it",
            )
            _pop(component, key)
    if component.get("size") is None:
        # v1alpha1 defaults it to 1; v1alpha2 has no default and its controller needs one
        if "size" in component:
            del component["size"]
        index = _index(component, "name") + 1 if "name" in component else 0
        _insert(component, index, "size", 1)


# ---------------------------------------------------------------------------------------------
# v1alpha2 -> v1alpha1
# ---------------------------------------------------------------------------------------------


def to_v1alpha1(doc: Map, indent: int = 2) -> Findings:
    """Convert one v1alpha2 document in place, refusing what v1alpha1 cannot hold."""
    global _indent
    _indent = indent
    found = Findings()
    kind = doc["kind"]
    doc["apiVersion"] = _same_style(doc["apiVersion"], V1)
    if kind in SAME_SCHEMA:
        return found
    meta = _map(doc.get("metadata"))
    spec = _map(doc.get("spec"))
    if kind == "RoleBasedGroup":
        _group_to_v1(spec, ("spec",), meta, found)
        return found
    group_template = _map(spec.get("groupTemplate"))
    at: JsonPath = ("spec", "groupTemplate")
    if _map(group_template.get("labels")):
        found.error(
            (*at, "labels"),
            LOSSY,
            "v1alpha1 has no labels for the groups of a RoleBasedGroupSet",
            help="remove spec.groupTemplate.labels, or stay on v1alpha2",
        )
    stash = _map(meta.get("annotations")).get(STASH_COORD)
    extra = {
        k: v
        for k, v in _map(group_template.get("annotations")).items()
        if not (k == STASH_COORD and v == stash)
    }
    if extra:
        found.error(
            (*at, "annotations"),
            LOSSY,
            "v1alpha1 has no annotations for the groups of a RoleBasedGroupSet: "
            + ", ".join(sorted(extra)),
            help="remove spec.groupTemplate.annotations, or stay on v1alpha2",
        )
    inner = _map(group_template.get("spec"))
    _group_to_v1(inner, (*at, "spec"), meta, found)
    if "groupTemplate" in spec:
        _shift(inner, -1)
        _rename(spec, "groupTemplate", "template", inner)
    return found


def _group_to_v1(spec: Map, at: JsonPath, meta: Map, found: Findings) -> None:
    annotations = _map(meta.get("annotations"))
    # how deep podGroupPolicy's fields sit: spec.podGroupPolicy.x, or spec.template.… in a set
    depth = 2 if len(at) == 1 else 3
    ann_at: JsonPath = ("metadata", "annotations")
    policy: dict[str, Any] | None = None
    rules: list[Any] | None = None
    raw = annotations.get(STASH_PGP)
    if raw:
        parsed = _stash(raw, dict, (*ann_at, STASH_PGP), found)
        policy = pod_group_policy_value(parsed) if parsed is not None else None
    raw = annotations.get(STASH_COORD)
    if raw:
        parsed_rules = _stash(raw, list, (*ann_at, STASH_COORD), found)
        rules = coordination_value(parsed_rules) if parsed_rules is not None else None
    gang = {k: str(annotations[k]) for k in GANG_KEYS if k in annotations}
    expected = gang_annotations(policy) if policy is not None else {}
    if gang != expected:
        first = next(iter(gang), None) or GANG
        found.error(
            (*ann_at, first) if first in annotations else ann_at,
            LOSSY,
            "the gang-scheduling annotations "
            + ("do not match the stashed v1alpha1 podGroupPolicy" if raw else "")
            + ("" if raw else "have no v1alpha1 podGroupPolicy stashed beside them")
            + "; upstream's conversion would drop them",
            help="v1alpha1 writes gang scheduling as spec.podGroupPolicy: stay on v1alpha2, or "
            "write the podGroupPolicy by hand after converting",
        )
    if EXCLUSIVE_V2 in annotations and annotations.get(EXCLUSIVE_V1) != annotations[EXCLUSIVE_V2]:
        found.error(
            (*ann_at, EXCLUSIVE_V2),
            LOSSY,
            f"upstream's conversion drops {EXCLUSIVE_V2}; v1alpha1 reads exclusive topology "
            f"from {EXCLUSIVE_V1}",
            help=f"set {EXCLUSIVE_V1} to the same value, or stay on v1alpha2",
        )
    if EXCLUSIVE_V1 in annotations and EXCLUSIVE_V2 not in annotations:
        found.warn(
            (*ann_at, EXCLUSIVE_V1),
            f"{EXCLUSIVE_V1} does nothing in v1alpha2, but in v1alpha1 it turns exclusive "
            "topology on (and converting forward again adds its v1alpha2 key)",
            help="remove it if the groups must not be exclusive",
        )
    roles = spec.get("roles") or []
    for i, role in enumerate(roles):
        if isinstance(role, MutableMapping):
            _role_to_v1(role, (*at, "roles", i), found)
    if any(f.error for f in found):
        return
    removed = [k for k in CONVERSION_ONLY if k in annotations]
    notes = {k: _take_comment_before(meta, "annotations", k) for k in (STASH_PGP, STASH_COORD)}
    for key in removed:
        _pop(annotations, key)
    if removed and not annotations:
        _pop(meta, "annotations")
    if policy is not None:
        value = _restored_policy(policy)
        _insert(spec, 0, "podGroupPolicy", value)
        if notes[STASH_PGP]:
            value.yaml_set_start_comment("\n".join(notes[STASH_PGP]), indent=depth * _indent)
    if rules is not None:
        spec["coordination"] = _restored_rules(rules)
        if notes[STASH_COORD]:
            spec["coordination"].yaml_set_start_comment(
                "\n".join(notes[STASH_COORD]), indent=depth * _indent
            )


def _stash(raw: Any, kind: type, at: JsonPath, found: Findings) -> Any:
    try:
        value = json.loads(str(raw))
    except ValueError as exc:
        found.error(at, CANNOT, f"the stashed v1alpha1 field is not valid JSON: {exc}", key=False)
        return None
    if not isinstance(value, kind):
        found.error(
            at,
            CANNOT,
            f"the stashed v1alpha1 field is not a JSON {'object' if kind is dict else 'array'}",
            key=False,
        )
        return None
    return value


def _block(value: Any) -> Any:
    """Plain JSON values as ruamel block collections (so they dump like hand-written YAML)."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _block(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_block(v) for v in value)
    return value


def _restored_policy(policy: dict[str, Any]) -> Any:
    kube = policy.get("kubeScheduling")
    if kube is not None and kube.get("scheduleTimeoutSeconds") == DEFAULT_TIMEOUT:
        policy = {**policy, "kubeScheduling": {}}
    return _block(policy)


def _restored_rules(rules: list[dict[str, Any]]) -> Any:
    out = []
    for rule in rules:
        scaling = rule.get("strategy", {}).get("scaling")
        if scaling is not None and scaling.get("progression") == DEFAULT_PROGRESSION:
            scaling = {k: v for k, v in scaling.items() if k != "progression"}
            rule = {**rule, "strategy": {**rule["strategy"], "scaling": scaling}}
        if rule.get("roles") is None:
            rule = {k: v for k, v in rule.items() if k != "roles"}
        out.append(rule)
    return _block(out)


def _role_to_v1(role: Map, at: JsonPath, found: Findings) -> None:
    name = role.get("name", "")
    errors_before = len([f for f in found if f.error])
    patterns = [
        k
        for k in ("leaderWorkerPattern", "customComponentsPattern", "standalonePattern")
        if _present(role, k)
    ]
    if not patterns:
        found.error(
            at,
            CANNOT,
            f"role {name!r} has no pattern (standalonePattern, leaderWorkerPattern or "
            "customComponentsPattern); upstream's controller refuses it",
            help="add the role's pattern",
            key=False,
        )
        return
    for loser in patterns[1:]:
        found.error(
            (*at, loser),
            LOSSY,
            f"role {name!r}: v1alpha1 holds one pattern per role; upstream's conversion keeps "
            f"{patterns[0]} and drops {loser}",
            help=f"remove {loser} (upstream's operator uses {patterns[0]} anyway)",
        )
    pattern_key = patterns[0]
    pattern = _map(role[pattern_key])
    p_at = (*at, pattern_key)
    restart = ""
    if pattern_key != "standalonePattern":
        config = _map(pattern.get("restartPolicyConfig"))
        for delay, default in DEFAULT_DELAYS.items():
            if config.get(delay, default) != default:
                found.error(
                    (*p_at, "restartPolicyConfig", delay),
                    LOSSY,
                    f"role {name!r}: v1alpha1 has no restart backoff ({delay} {config[delay]}; "
                    f"the default is {default})",
                    help="remove it, or stay on v1alpha2",
                )
        deprecated = pattern.get("restartPolicy") or ""
        restart = config.get("type") or deprecated
        if deprecated and config.get("type") and deprecated != config["type"]:
            found.error(
                (*p_at, "restartPolicy"),
                LOSSY,
                f"role {name!r}: the deprecated restartPolicy {deprecated} is overridden by "
                f"restartPolicyConfig.type {config['type']} and would be lost",
                help="remove the deprecated restartPolicy",
            )
    if _present(pattern, "sharedServiceSelection"):
        found.error(
            (*p_at, "sharedServiceSelection"),
            LOSSY,
            f"role {name!r}: v1alpha1 has no sharedServiceSelection",
            help="remove it (v1alpha1 roles run as StatefulSet, Deployment or LeaderWorkerSet, "
            "where the Service selects all pods), or stay on v1alpha2",
        )
    policy = role.get("podManagementPolicy")
    if policy not in (None, "Parallel"):
        found.error(
            (*at, "podManagementPolicy"),
            LOSSY,
            f"role {name!r}: v1alpha1 has no podManagementPolicy ({policy})",
            help="remove it, or stay on v1alpha2",
        )
    if "instanceTopologyConstraint" in role:
        found.error(
            (*at, "instanceTopologyConstraint"),
            LOSSY,
            f"role {name!r}: v1alpha1 has no instanceTopologyConstraint (KEP-473)",
            help="stay on v1alpha2, or write it as a pack rule of an rbgc Placement document",
        )
    if _map(_map(role.get("scalingAdapter")).get("labels")):
        found.error(
            (*at, "scalingAdapter", "labels"),
            LOSSY,
            f"role {name!r}: v1alpha1 has no labels for the scaling adapter",
            help="remove them, or stay on v1alpha2",
        )
    if pattern_key == "customComponentsPattern":
        kind = str(_map(role.get("annotations")).get(WORKLOAD_TYPE) or "").rpartition("/")[2]
        if kind != "InstanceSet":
            found.error(
                (*at, pattern_key),
                LOSSY,
                f"role {name!r}: v1alpha1 holds components only on an InstanceSet workload "
                f"(upstream's v1alpha1 schema refuses a {kind or 'RoleInstanceSet'} role "
                "without a template)",
                help="stay on v1alpha2: v1alpha1's InstanceSet is deprecated and no longer run",
            )
        for j, component in enumerate(pattern.get("components") or ()):
            for key in ("labels", "annotations"):
                if _map(_map(component).get(key)):
                    found.error(
                        (*p_at, "components", j, key),
                        LOSSY,
                        f"role {name!r}: v1alpha1 components have no {key}",
                        help="remove them, or stay on v1alpha2",
                    )
    if len([f for f in found if f.error]) > errors_before:
        return

    # role-workload-type annotation -> workload
    annotations = role.get("annotations")
    workload = ROLE_INSTANCE_SET
    tail = None
    if isinstance(annotations, MutableMapping):
        value = str(annotations.get(WORKLOAD_TYPE) or "")
        cut = value.rfind("/")
        if cut > 0:
            workload = (value[:cut], value[cut + 1 :])
            tail = _comment(annotations, WORKLOAD_TYPE)
            _pop(annotations, WORKLOAD_TYPE)
    if workload == ROLE_INSTANCE_SET:
        found.warn(
            at,
            f"role {name!r} runs as a RoleInstanceSet (v1alpha2's default workload): v1alpha1 "
            "names it `workload: {apiVersion: workloads.x-k8s.io/v1alpha2, kind: "
            "RoleInstanceSet}`, which only upstream's v0.7+ operator runs (rbgc build: RBG121)",
            help="stay on v1alpha2, or choose a StatefulSet, Deployment or LeaderWorkerSet "
            "workload before converting",
            key=False,
        )
    value_map = None
    if workload != STATEFULSET:
        value_map = _new_map()
        value_map["apiVersion"], value_map["kind"] = workload
        if tail is not None:  # the comment that followed `kind`, one space after it
            _reset_column(tail)
            _set_comment(value_map, "kind", tail)
    if isinstance(annotations, MutableMapping) and not annotations:
        if value_map is not None:
            _rename(role, "annotations", "workload", value_map)
        else:
            _pop(role, "annotations")
    elif value_map is not None:
        index = _index(role, "annotations") + 1 if "annotations" in role else len(role)
        _insert(role, index, "workload", value_map)
    if "podManagementPolicy" in role:
        _pop(role, "podManagementPolicy")
    adapter = role.get("scalingAdapter")
    if isinstance(adapter, MutableMapping) and "labels" in adapter:
        _pop(adapter, "labels")

    index = _index(role, pattern_key)
    comment = _comment(role, pattern_key)
    role.pop(pattern_key)
    for loser in patterns[1:]:
        del role[loser]
    entries: list[tuple[str, Any]] = []
    if restart:
        entries.append(("restartPolicy", restart))
    if pattern_key == "customComponentsPattern":
        components = pattern.get("components")
        for component in components or ():
            for key in ("labels", "annotations"):
                if isinstance(component, MutableMapping) and key in component:
                    _pop(component, key)
        entries.append(("components", components if components is not None else CommentedSeq()))
    else:
        lws: Map | None = None
        for key in list(pattern):
            if key == "template":
                entries.append(("template", pattern[key]))
            elif key == "templateRef":
                ref = _map(pattern[key])
                patch = ref.pop("patch", None) if "patch" in ref else None
                entries.append(("templateRef", ref))
                if patch is not None:
                    entries.append(("templatePatch", patch))
            elif pattern_key == "leaderWorkerPattern" and key in (
                "size",
                "leaderTemplatePatch",
                "workerTemplatePatch",
            ):
                if lws is None:
                    lws = _new_map()
                    entries.append(("leaderWorkerSet", lws))
                new = {"leaderTemplatePatch": "patchLeaderTemplate"}.get(key, key)
                new = {"workerTemplatePatch": "patchWorkerTemplate"}.get(key, new)
                _move(pattern, key, lws, new)
        if pattern_key == "leaderWorkerPattern" and lws is None:
            entries.append(("leaderWorkerSet", _new_map()))  # its presence makes the role LWS
    for offset, (key, value) in enumerate(entries):
        if key != "leaderWorkerSet":  # its fields stay at the same depth
            _shift(value, -1)
        if key == "templatePatch":  # it was one level deeper still, inside templateRef
            _shift(value, -1)
        _insert(role, index + offset, key, value)
    if entries:
        _set_comment(role, entries[0][0], comment)
