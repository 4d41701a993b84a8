"""v1alpha2 -> v1alpha1, as upstream's `ConvertFrom`: refusing what v1alpha1 cannot hold, and
restoring podGroupPolicy and coordination from their stash (semantics file §7.4)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from rbgc.convert.edit import Editor
from rbgc.convert.mapping import (
    CANNOT,
    DEFAULT_DELAYS,
    DEFAULT_TIMEOUT,
    EXCLUSIVE_V1,
    EXCLUSIVE_V2,
    GANG,
    GANG_KEYS,
    LOSSY,
    ROLE_INSTANCE_SET,
    SAME_SCHEMA,
    STASH_COORD,
    STASH_PGP,
    STATEFULSET,
    V1,
    WORKLOAD_TYPE,
    Findings,
    Map,
    as_map,
    present,
)
from rbgc.jsonpath import JsonPath
from rbgc.k8s import conventions as cv


def convert(doc: Map, ed: Editor) -> Findings:
    """Convert one v1alpha2 document in place, refusing what v1alpha1 cannot hold."""
    found = Findings()
    kind = doc["kind"]
    doc["apiVersion"] = ed.same_style(doc["apiVersion"], V1)
    if kind in SAME_SCHEMA:
        return found
    meta = as_map(doc.get("metadata"))
    spec = as_map(doc.get("spec"))
    if kind == "RoleBasedGroup":
        _group_to_v1(ed, spec, ("spec",), meta, found)
        return found
    group_template = as_map(spec.get("groupTemplate"))
    at: JsonPath = ("spec", "groupTemplate")
    if as_map(group_template.get("labels")):
        found.error(
            (*at, "labels"),
            LOSSY,
            "v1alpha1 has no labels for the groups of a RoleBasedGroupSet",
            help="remove spec.groupTemplate.labels, or stay on v1alpha2",
        )
    stash = as_map(meta.get("annotations")).get(STASH_COORD)
    extra = {
        k: v
        for k, v in as_map(group_template.get("annotations")).items()
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
    inner = as_map(group_template.get("spec"))
    _group_to_v1(ed, inner, (*at, "spec"), meta, found)
    if "groupTemplate" in spec:
        ed.shift(inner, -1)
        ed.rename(spec, "groupTemplate", "template", inner)
    return found


def _group_to_v1(ed: Editor, spec: Map, at: JsonPath, meta: Map, found: Findings) -> None:
    annotations = as_map(meta.get("annotations"))
    # how deep podGroupPolicy's fields sit: spec.podGroupPolicy.x, or spec.template.… in a set
    depth = 2 if len(at) == 1 else 3
    ann_at: JsonPath = ("metadata", "annotations")
    policy: dict[str, Any] | None = None
    rules: list[Any] | None = None
    raw = annotations.get(STASH_PGP)
    if raw:
        parsed = _stash(raw, dict, (*ann_at, STASH_PGP), found)
        policy = cv.pod_group_policy_value(parsed) if parsed is not None else None
    raw = annotations.get(STASH_COORD)
    if raw:
        parsed_rules = _stash(raw, list, (*ann_at, STASH_COORD), found)
        rules = cv.coordination_value(parsed_rules) if parsed_rules is not None else None
    gang = {k: str(annotations[k]) for k in GANG_KEYS if k in annotations}
    expected = cv.gang_annotations(policy) if policy is not None else {}
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
            _role_to_v1(ed, role, (*at, "roles", i), found)
    if any(f.error for f in found):
        return
    removed = [k for k in cv.CONVERSION_ONLY if k in annotations]
    notes = {k: ed.take_comment_before(meta, "annotations", k) for k in (STASH_PGP, STASH_COORD)}
    for key in removed:
        ed.pop(annotations, key)
    if removed and not annotations:
        ed.pop(meta, "annotations")
    if policy is not None:
        value = _restored_policy(ed, policy, like=annotations)
        ed.insert(spec, 0, "podGroupPolicy", value)
        if notes[STASH_PGP]:
            value.yaml_set_start_comment("\n".join(notes[STASH_PGP]), indent=depth * ed.indent)
    if rules is not None:
        spec["coordination"] = _restored_rules(ed, rules, like=annotations)
        if notes[STASH_COORD]:
            spec["coordination"].yaml_set_start_comment(
                "\n".join(notes[STASH_COORD]), indent=depth * ed.indent
            )


def _stash(
    raw: Any, kind: type[dict[str, Any]] | type[list[Any]], at: JsonPath, found: Findings
) -> Any:
    try:
        value = cv.stash_decode(str(raw))
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


def _restored_policy(ed: Editor, policy: dict[str, Any], like: Any) -> Any:
    kube = policy.get("kubeScheduling")
    if kube is not None and kube.get("scheduleTimeoutSeconds") == DEFAULT_TIMEOUT:
        policy = {**policy, "kubeScheduling": {}}
    return ed.block(policy, like=like)


def _restored_rules(ed: Editor, rules: list[dict[str, Any]], like: Any) -> Any:
    out = []
    for rule in rules:
        scaling = rule.get("strategy", {}).get("scaling")
        if scaling is not None and scaling.get("progression") == cv.DEFAULT_PROGRESSION:
            scaling = {k: v for k, v in scaling.items() if k != "progression"}
            rule = {**rule, "strategy": {**rule["strategy"], "scaling": scaling}}
        if rule.get("roles") is None:
            rule = {k: v for k, v in rule.items() if k != "roles"}
        out.append(rule)
    return ed.block(out, like=like)


def _role_to_v1(ed: Editor, role: Map, at: JsonPath, found: Findings) -> None:
    name = role.get("name", "")
    errors_before = len([f for f in found if f.error])
    patterns = [
        k
        for k in ("leaderWorkerPattern", "customComponentsPattern", "standalonePattern")
        if present(role, k)
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
    pattern = as_map(role[pattern_key])
    p_at = (*at, pattern_key)
    restart = ""
    if pattern_key != "standalonePattern":
        config = as_map(pattern.get("restartPolicyConfig"))
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
    if present(pattern, "sharedServiceSelection"):
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
    if as_map(as_map(role.get("scalingAdapter")).get("labels")):
        found.error(
            (*at, "scalingAdapter", "labels"),
            LOSSY,
            f"role {name!r}: v1alpha1 has no labels for the scaling adapter",
            help="remove them, or stay on v1alpha2",
        )
    if pattern_key == "customComponentsPattern":
        kind = str(as_map(role.get("annotations")).get(WORKLOAD_TYPE) or "").rpartition("/")[2]
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
                if as_map(as_map(component).get(key)):
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
            tail = ed.comment(annotations, WORKLOAD_TYPE)
            ed.pop(annotations, WORKLOAD_TYPE)
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
        value_map = ed.new_map(annotations)
        value_map["apiVersion"], value_map["kind"] = workload
        if tail is not None:  # the comment that followed `kind`, one space after it
            ed.reset_column(tail)
            ed.set_comment(value_map, "kind", tail)
    if isinstance(annotations, MutableMapping) and not annotations:
        if value_map is not None:
            ed.rename(role, "annotations", "workload", value_map)
        else:
            ed.pop(role, "annotations")
    elif value_map is not None:
        index = ed.index(role, "annotations") + 1 if "annotations" in role else len(role)
        ed.insert(role, index, "workload", value_map)
    if "podManagementPolicy" in role:
        ed.pop(role, "podManagementPolicy")
    adapter = role.get("scalingAdapter")
    if isinstance(adapter, MutableMapping) and "labels" in adapter:
        ed.pop(adapter, "labels")

    index = ed.index(role, pattern_key)
    comment = ed.comment(role, pattern_key)
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
                    ed.pop(component, key)
        entries.append(("components", components if components is not None else CommentedSeq()))
    else:
        lws: Map | None = None
        for key in list(pattern):
            if key == "template":
                entries.append(("template", pattern[key]))
            elif key == "templateRef":
                ref = as_map(pattern[key])
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
                    lws = ed.new_map(pattern)
                    entries.append(("leaderWorkerSet", lws))
                new = {"leaderTemplatePatch": "patchLeaderTemplate"}.get(key, key)
                new = {"workerTemplatePatch": "patchWorkerTemplate"}.get(key, new)
                ed.move(pattern, key, lws, new)
        if pattern_key == "leaderWorkerPattern" and lws is None:
            entries.append(
                ("leaderWorkerSet", ed.new_map(pattern))
            )  # its presence makes the role LWS
    for offset, (key, value) in enumerate(entries):
        if key != "leaderWorkerSet":  # its fields stay at the same depth
            ed.shift(value, -1)
        if key == "templatePatch":  # it was one level deeper still, inside templateRef
            ed.shift(value, -1)
        ed.insert(role, index + offset, key, value)
    if entries:
        ed.set_comment(role, entries[0][0], comment)
