"""v1alpha1 -> v1alpha2, as upstream's `ConvertTo` (rolebasedgroup_conversion.go,
rolebasedgroupset_conversion.go): patterns from workloads, the role-workload-type annotation,
podGroupPolicy and coordination stashed in annotations (semantics file §7.1-§7.3)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rbgc.convert.edit import Editor
from rbgc.convert.mapping import (
    CANNOT,
    DISABLE_EXCLUSIVE_V1,
    DISABLE_EXCLUSIVE_V2,
    EXCLUSIVE_V1,
    EXCLUSIVE_V2,
    GANG,
    SAME_SCHEMA,
    STASH_COORD,
    STASH_PGP,
    STATEFULSET,
    V2,
    WORKLOAD_TYPE,
    Findings,
    Map,
    as_map,
    present,
)
from rbgc.jsonpath import JsonPath
from rbgc.k8s import conventions as cv


def convert(doc: Map, ed: Editor) -> Findings:
    """Convert one v1alpha1 document in place (the caller checked kind and apiVersion)."""
    found = Findings()
    kind = doc["kind"]
    doc["apiVersion"] = ed.same_style(doc["apiVersion"], V2)
    if kind in SAME_SCHEMA:
        return found
    meta = as_map(doc.get("metadata"))
    spec = as_map(doc.get("spec"))
    if kind == "RoleBasedGroup":
        notes: dict[str, list[str]] = {}
        additions = _group_to_v2(ed, spec, ("spec",), meta, found, notes)
        _annotate(ed, meta, additions, notes)
    else:  # RoleBasedGroupSet
        template = as_map(spec.get("template"))
        notes = {}
        additions = _group_to_v2(ed, template, ("spec", "template"), meta, found, notes)
        _annotate(ed, meta, additions, notes)
        group_template = ed.new_map()
        if STASH_COORD in additions:
            # so each child group gets it and creates its CoordinatedPolicy
            group_template["annotations"] = ed.new_map()
            group_template["annotations"][STASH_COORD] = additions[STASH_COORD]
        group_template["spec"] = template
        ed.shift(template, 1)
        if "template" in spec:
            ed.rename(spec, "template", "groupTemplate", group_template)
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


def _annotate(
    ed: Editor, meta: Map, additions: dict[str, str], notes: dict[str, list[str]]
) -> None:
    if not additions:
        return
    annotations = ed.annotations_of(meta)
    for key, lines in notes.items():
        if lines and key in additions and isinstance(annotations, CommentedMap):
            annotations[key] = additions[key]
            annotations.yaml_set_comment_before_after_key(
                key, before="\n".join(lines), indent=2 * ed.indent
            )
    for key, value in additions.items():
        if key == EXCLUSIVE_V2 and EXCLUSIVE_V1 in annotations and key not in annotations:
            styled = ed.same_style(annotations[EXCLUSIVE_V1], value)
            ed.insert(annotations, ed.index(annotations, EXCLUSIVE_V1) + 1, key, styled)
        else:
            annotations[key] = ed.annotation(value)


def _group_to_v2(
    ed: Editor, spec: Map, at: JsonPath, meta: Map, found: Findings, notes: dict[str, list[str]]
) -> dict[str, str]:
    """Convert a group spec in place; return the annotations preserveV1alpha1Fields adds.

    `notes` receives the comments written inside podGroupPolicy and coordination, by the
    annotation that now holds them."""
    additions: dict[str, str] = {}
    annotations = as_map(meta.get("annotations"))
    exclusive = annotations.get(EXCLUSIVE_V1)
    if exclusive is not None:
        additions[EXCLUSIVE_V2] = str(exclusive)
    if present(spec, "podGroupPolicy"):
        policy = cv.pod_group_policy_value(as_map(spec["podGroupPolicy"]))
        additions[STASH_PGP] = cv.stash_encode(policy)
        additions.update(cv.gang_annotations(policy))
        if "volcanoScheduling" in policy and "kubeScheduling" not in policy:
            found.warn(
                (*at, "podGroupPolicy", "volcanoScheduling"),
                "upstream's v1alpha2 operator creates the PodGroup kind of its "
                "--scheduler-name flag (scheduler-plugins by default), not Volcano's because "
                "the group asks for it",
                help="run the operator with --scheduler-name=volcano",
            )
    if "podGroupPolicy" in spec:
        notes[STASH_PGP] = ed.remove_moving_comments(spec, "podGroupPolicy")
    rules = spec.get("coordination")
    if isinstance(rules, list) and rules:
        additions[STASH_COORD] = cv.stash_encode(cv.coordination_value(rules))
        name = meta.get("name", "")
        found.warn(
            (*at, "coordination"),
            "upstream's operator turns the stashed coordination into a CoordinatedPolicy "
            f"{name!r} whose rules have no name, which the API server refuses (and it drops "
            "progression OrderReady): the group's reconcile then fails",
            help=f"write a CoordinatedPolicy named {name!r} (same namespace) with these rules, "
            f"and remove the {STASH_COORD} annotation",
        )
    if "coordination" in spec:
        notes[STASH_COORD] = ed.remove_moving_comments(spec, "coordination")
    opt_out_matters = exclusive is not None
    for i, template in enumerate(spec.get("roleTemplates") or ()):
        if opt_out_matters:
            _warn_opt_out(as_map(template).get("template"), (*at, "roleTemplates", i), found)
        _warn_old_env(template, (*at, "roleTemplates", i), found)
    for i, role in enumerate(spec.get("roles") or ()):
        if isinstance(role, MutableMapping):
            _role_to_v2(ed, role, (*at, "roles", i), found, opt_out_matters)
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
    annotations = as_map(as_map(as_map(template).get("metadata")).get("annotations"))
    if DISABLE_EXCLUSIVE_V1 in annotations:
        found.warn(
            (*at, "template", "metadata", "annotations", DISABLE_EXCLUSIVE_V1),
            f"upstream's v1alpha2 operator ignores {DISABLE_EXCLUSIVE_V1} (its conversion does "
            "not translate it), so these pods join the exclusive topology",
            help=f'add `{DISABLE_EXCLUSIVE_V2}: "true"` next to it',
        )


def _role_to_v2(
    ed: Editor, role: Map, at: JsonPath, found: Findings, opt_out_matters: bool
) -> None:
    name = role.get("name", "")
    workload = as_map(role.get("workload"))
    api = workload.get("apiVersion") or STATEFULSET[0]
    kind = workload.get("kind") or STATEFULSET[1]
    restart = role.get("restartPolicy") or ""
    lws = present(role, "leaderWorkerSet")
    components = role.get("components") or []
    has_template, has_ref = present(role, "template"), present(role, "templateRef")
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
            elif present(role, key):
                _warn_opt_out({"metadata": as_map(role[key]).get("metadata")}, at, found)
    if len([f for f in found if f.error]) > errors_before:
        return

    # workload -> the role-workload-type annotation (a comment after it goes along)
    tail = ed.trailing_comment(role.get("workload"))
    if not isinstance(role.get("annotations"), MutableMapping):
        if "annotations" in role:
            del role["annotations"]  # `annotations: null`
        if "workload" in role:
            ed.rename(role, "workload", "annotations", ed.new_map(role["workload"]))
        else:
            after = "labels" if "labels" in role else "name"
            ed.insert(
                role, ed.index(role, after) + 1 if after in role else 0, "annotations", ed.new_map()
            )
    role["annotations"][WORKLOAD_TYPE] = f"{api}/{kind}"
    if tail is not None and WORKLOAD_TYPE not in role["annotations"].ca.items:
        role["annotations"].ca.items[WORKLOAD_TYPE] = tail
    if "workload" in role:
        ed.pop(role, "workload")

    # templatePatch joins templateRef as `patch`; without one, upstream drops it
    ccp = bool(components) and not lws
    if "templatePatch" in role and not ccp:
        if role["templatePatch"] is None:
            ed.pop(role, "templatePatch")
        elif not has_ref:
            found.warn(
                (*at, "templatePatch"),
                f"role {name!r}: `templatePatch` without `templateRef` is dropped by upstream's "
                "conversion (it patches nothing)",
                help="remove it, or add the `templateRef` it was meant for",
            )
            ed.pop(role, "templatePatch")
        else:
            ed.move(role, "templatePatch", as_map(role["templateRef"]), "patch", levels=1)
    sources = [k for k in role if k in ("template", "templateRef", "leaderWorkerSet")]

    if lws:
        if components:
            found.warn(
                (*at, "components"),
                f"role {name!r}: `components` is ignored next to `leaderWorkerSet` and dropped "
                "by upstream's conversion",
                help="remove it",
            )
            ed.pop(role, "components")
        pattern = ed.new_map(*(role[k] for k in sources))
        index = min(ed.index(role, k) for k in sources)
        for key in sources:
            if key == "leaderWorkerSet":
                spec = role.pop("leaderWorkerSet")
                ed.comment(role, "leaderWorkerSet")
                for old, new in (
                    ("size", "size"),
                    ("patchLeaderTemplate", "leaderTemplatePatch"),
                    ("patchWorkerTemplate", "workerTemplatePatch"),
                ):
                    if present(spec, old):
                        ed.move(spec, old, pattern, new)
            else:
                ed.move(role, key, pattern, levels=1)
        if restart:
            config = ed.new_map()
            config["type"] = restart
            pattern["restartPolicyConfig"] = config
        ed.insert(role, index, "leaderWorkerPattern", pattern)
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
                ed.pop(role, key)
        index = ed.index(role, "components")
        pattern = ed.new_map(role["components"])
        comment = ed.comment(role, "components")
        pattern["components"] = role.pop("components")
        ed.set_comment(pattern, "components", comment)
        seen: set[int] = set()
        ed.shift(comment, 1, seen)
        ed.shift(pattern["components"], 1, seen)
        for j, component in enumerate(pattern["components"]):
            _component_to_v2(ed, as_map(component), (*at, "components", j), name, found)
        if restart:
            config = ed.new_map()
            config["type"] = restart
            pattern["restartPolicyConfig"] = config
        ed.insert(role, index, "customComponentsPattern", pattern)
    else:
        if "leaderWorkerSet" in role:  # `leaderWorkerSet: null`
            del role["leaderWorkerSet"]
        if "components" in role:  # `components: []`
            ed.pop(role, "components")
        pattern = ed.new_map(*(role[k] for k in sources))
        index = min((ed.index(role, k) for k in sources), default=len(role))
        for key in sources:
            ed.move(role, key, pattern, levels=1)
        ed.insert(role, index, "standalonePattern", pattern)
        if restart and restart != "None":
            found.warn(
                (*at, "restartPolicy"),
                f"role {name!r}: upstream's conversion drops restartPolicy {restart} (a v1alpha2 "
                "standalone role never restarts other pods when one fails)",
                help="remove it; a leaderWorkerSet role keeps it as restartPolicyConfig.type",
            )
    if "restartPolicy" in role:
        ed.pop(role, "restartPolicy")


def _component_to_v2(ed: Editor, component: Map, at: JsonPath, role: str, found: Findings) -> None:
    for key in list(component):
        if key not in ("name", "size", "serviceName", "template"):
            found.warn(
                (*at, key),
                f"role {role!r}: component field `{key}` does not exist in upstream's schema "
                "and is dropped",
                help="remove it",
            )
            ed.pop(component, key)
    if component.get("size") is None:
        # v1alpha1 defaults it to 1; v1alpha2 has no default and its controller needs one
        if "size" in component:
            del component["size"]
        index = ed.index(component, "name") + 1 if "name" in component else 0
        ed.insert(component, index, "size", 1)
