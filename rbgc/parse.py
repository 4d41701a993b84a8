"""Documents -> Program: RBG documents become typed groups, everything else passes through.

Runs after the schema check, so shapes are trusted here; meaning is checked by the passes.
Defaults are the upstream CRD's, including its nested ones (rbg-semantics.md §16.26):
`workload: {}` is a StatefulSet, `rollingUpdate: {}` is partition 0 / maxUnavailable 1 /
maxSurge 0, an absent `rollingUpdate` stays absent (kinds then use their own defaults).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rbgc import parse_v1alpha2
from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, did_you_mean, error, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import MAX_CLUSTER_PODS
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.naming import set_member_name
from rbgc.model import (
    CoordinatedRollingUpdate,
    CoordinatedScaling,
    Coordination,
    Dependency,
    Group,
    LeaderWorkerSetSpec,
    Profile,
    Program,
    Role,
    RollingUpdate,
    ScalingAdapter,
    Workload,
    WorkloadKind,
)
from rbgc.parse_v1alpha2 import engine_runtimes, role_templates, service_ports
from rbgc.schema import KINDS_V1ALPHA2, check, check_v1alpha2, is_rbg_document
from rbgc.source import Document, JsonPath, value_at
from rbgc.warmup.parse import is_warmup
from rbgc.warmup.parse import parse as parse_warmup
from rbgc.warmup.spec import Warmup


def parse(
    documents: list[Document], default_namespace: str, conventions: str | None = None
) -> Program:
    """Schema-check RBG documents and build the IR. Raises DiagnosticError with every problem.

    `conventions`: the operator release the output follows ("v0.4" | "v0.8"); None: the
    input's own (v1alpha1 -> v0.4.0's, v1alpha2 -> HEAD's)."""
    problems: list[Diagnostic] = []
    groups: list[Group] = []
    passthrough: list[Manifest] = []
    profiles: dict[str, Profile] = {}
    placement_docs: list[Document] = []
    policies: list[Document] = []
    adapters: list[ScalingAdapter] = []
    warmups: list[Warmup] = []

    def chosen(doc: Document) -> cv.Conventions:
        return cv.conventions_for(doc.api_version, conventions)

    for order, doc in enumerate(documents):
        if cv.is_placement_kind(doc.api_version, doc.kind):  # the placement pass's, not emitted
            placement_docs.append(doc)
            continue
        if is_warmup(doc):  # KEP-129: its own front end and lowering (rbgc/warmup/)
            try:
                warmups.append(parse_warmup(doc, default_namespace))
            except DiagnosticError as exc:
                problems.extend(exc.diagnostics)
            continue
        if doc.api_version == cv.API_VERSION_V1ALPHA2 and doc.kind in KINDS_V1ALPHA2:
            found = check_v1alpha2(doc)
            if found:
                problems.extend(found)
            elif doc.kind == cv.RBG_KIND:
                groups.append(
                    parse_v1alpha2.group(
                        doc, ("spec",), default_namespace, order, conventions=chosen(doc)
                    )
                )
            elif doc.kind == cv.RBGSET_KIND:
                too_large = _set_too_large(doc, ("spec", "groupTemplate", "spec", "roles"))
                if too_large:
                    problems.append(too_large)
                else:
                    groups.extend(_group_set_v1alpha2(doc, default_namespace, order, chosen(doc)))
            elif doc.kind == cv.PROFILE_KIND:
                _add_profile(profiles, _profile(doc), problems)
            elif doc.kind == "CoordinatedPolicy":
                policies.append(doc)
            else:
                adapters.append(_adapter(doc, default_namespace))
            continue
        if (
            doc.api_version.startswith(cv.API_GROUP + "/")
            and doc.kind in _COMPILED
            and doc.api_version != cv.API_VERSION
        ):
            problems.append(
                error(
                    "RBG120",
                    f"{doc.kind} {doc.api_version} is not supported; rbgc compiles "
                    f"{cv.API_VERSION} and {cv.API_VERSION_V1ALPHA2}",
                    doc.span("apiVersion"),
                    help="write the object as workloads.x-k8s.io/v1alpha2 (or v1alpha1)",
                )
            )
            continue
        if _holds_rbg_items(doc):
            problems.append(
                error(
                    "RBG120",
                    f"a {doc.kind} holds RoleBasedGroup objects, which rbgc only compiles as "
                    "documents of their own",
                    doc.span("items"),
                    help="write each item as its own YAML document (separated by ---)",
                )
            )
            continue
        misspelt = _misspelt(doc)
        if misspelt is not None:
            problems.append(misspelt)
            continue
        if not is_rbg_document(doc):
            passthrough.append(
                Manifest(
                    body=doc.body,
                    wave=_passthrough_wave(doc),
                    order=order,
                    origin=doc.span(),
                    source=doc,
                )
            )
            continue
        found = check(doc)
        if found:
            problems.extend(found)
            continue
        if doc.kind == cv.RBG_KIND:
            groups.append(_group(doc, ("spec",), default_namespace, order, chosen(doc)))
        elif doc.kind == cv.RBGSET_KIND:
            too_large = _set_too_large(doc, ("spec", "template", "roles"))
            if too_large:
                problems.append(too_large)
            else:
                groups.extend(_group_set(doc, default_namespace, order, chosen(doc)))
        else:
            _add_profile(profiles, _profile(doc), problems)
    groups, found = bind_policies(groups, policies, default_namespace)
    problems.extend(d for d in found if d.severity is Severity.ERROR)
    # v1alpha2 groups (and CoordinatedPolicies) carry KEP-473 topology fields even without a
    # Placement; a plain v1alpha1 build never imports topology.py (start-up, issue 21.7)
    if placement_docs or policies or any(g.document.api_version != cv.API_VERSION for g in groups):
        from rbgc.topology import bind as bind_placements

        groups, found_placements = bind_placements(groups, placement_docs, default_namespace)
        problems.extend(found_placements)
    if problems:
        raise DiagnosticError(problems)
    return Program(
        groups=tuple(groups),
        passthrough=tuple(passthrough),
        profiles=dict(sorted(profiles.items())),
        adapters=tuple(adapters),
        warnings=tuple(d for d in found if d.severity is Severity.WARNING),
        warmups=tuple(warmups),
    )


_COMPILED = (cv.RBG_KIND, cv.RBGSET_KIND, cv.PROFILE_KIND)
# Upstream kinds of the group that only the RBG operator serves (rbg-v1alpha2-semantics.md §1.1).
_OPERATOR_KINDS = (
    "RoleBasedGroupScalingAdapter",
    "CoordinatedPolicy",
    "RoleInstanceSet",
    "RoleInstance",
    "RoleBasedGroupWarmup",
    "InstanceSet",
    "Instance",
)
# Closer than this (difflib's ratio, case-insensitive) is a typo: `RoleBaseGroup` is 0.96,
# `workload.x-k8s.io` 0.97, while the nearest real neighbours stay below 0.85 (`PodGroup`
# 0.64, `workloads.sigs.k8s.io` 0.82, `leaderworkerset.x-k8s.io` 0.67).
_TYPO_RATIO = 0.85


def _close(word: str, target: str) -> bool:
    a, b = word.lower(), target.lower()
    if 2 * min(len(a), len(b)) < _TYPO_RATIO * (len(a) + len(b)):
        return False  # too different in length: no need to load difflib (the common case)
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= _TYPO_RATIO


def _misspelt(doc: Document) -> Diagnostic | None:
    """An error for a document that was almost certainly meant as an RBG object: it would pass
    through unchanged and the group would never run (RBG104, RBG120)."""
    group, _, version = doc.api_version.rpartition("/")
    kind = doc.kind
    if group == cv.API_GROUP:
        if kind in _COMPILED:
            return None
        if kind in _OPERATOR_KINDS:
            return error(
                "RBG120",
                f"{kind} is served by the RBG operator, which rbgc replaces; rbgc does not "
                "compile it",
                doc.span("kind"),
                help="remove it from the inputs (an HPA can target the compiled workload directly)"
                if kind == "RoleBasedGroupScalingAdapter"
                else "remove it from the inputs",
            )
        known = (*_COMPILED, *_OPERATOR_KINDS)
        return error(
            "RBG104",
            f"{cv.API_GROUP} has no kind {kind}",
            doc.span("kind"),
            help=did_you_mean(kind, known, "rbgc compiles " + ", ".join(_COMPILED)),
        )
    if group and _close(group, cv.API_GROUP):
        return error(
            "RBG104",
            f"API group {group} is not {cv.API_GROUP}",
            doc.span("apiVersion"),
            help=f"did you mean '{cv.API_GROUP}/{version}'?",
        )
    for target in _COMPILED:
        if _close(kind, target):
            wrote = f"{kind} {doc.api_version}"
            return error(
                "RBG104",
                f"{wrote} is not an object rbgc compiles; {target} is {cv.API_VERSION}",
                doc.span("kind" if kind != target else "apiVersion"),
                help=f"did you mean 'apiVersion: {cv.API_VERSION}' and 'kind: {target}'?",
            )
    return None


def _adapter(doc: Document, default_namespace: str) -> ScalingAdapter:
    target = doc.body["spec"]["scaleTargetRef"]
    return ScalingAdapter(
        name=doc.body["metadata"]["name"],
        namespace=_namespace(doc, default_namespace),
        group=target["name"],
        role=target["role"],
        span=doc.span("metadata", "name"),
    )


def bind_policies(
    groups: list[Group], policies: list[Document], default_namespace: str
) -> tuple[list[Group], list[Diagnostic]]:
    """Each CoordinatedPolicy's rules join the group of the same name and namespace, the only
    binding upstream has (v1alpha2 semantics §6); one that binds no group is reported."""
    found: list[Diagnostic] = []
    by_key = {(g.namespace, g.name): i for i, g in enumerate(groups)}
    for doc in policies:
        name, namespace = doc.body["metadata"]["name"], _namespace(doc, default_namespace)
        rules = [
            _policy_rule(doc, ("spec", "policies", i), raw, found)
            for i, raw in enumerate(doc.body["spec"]["policies"])
        ]
        index = by_key.get((namespace, name))
        if index is None:
            known = sorted(g.name for g in groups if g.namespace == namespace)
            found.append(
                warning(
                    "RBG123",
                    f"CoordinatedPolicy {name} binds no RoleBasedGroup: the operator applies a "
                    "policy only to the group of the same name and namespace, so it has no "
                    "effect",
                    doc.span("metadata", "name"),
                    help=did_you_mean(
                        name,
                        known,
                        "name it after its group"
                        + (f" (groups here: {', '.join(known)})" if known else ""),
                    ),
                )
            )
            continue
        group = groups[index]
        groups[index] = replace(group, coordination=(*group.coordination, *rules))
    return groups, found


def _policy_rule(
    doc: Document, path: JsonPath, raw: dict[str, Any], found: list[Diagnostic]
) -> Coordination:
    rule = replace(_coordination(doc, path, raw), document=doc, path=path)
    strategy = raw.get("strategy") or {}
    for section in ("rollingUpdate", "scaling"):
        skew = (strategy.get(section) or {}).get("maxSkew")
        if isinstance(skew, int):
            found.append(
                error(
                    "RBG151",
                    f"maxSkew {skew} is an integer: the operator reads only percentages "
                    + (
                        "(it fails every reconcile of the group)"
                        if section == "scaling"
                        else "(it would coordinate with a skew of 0%)"
                    ),
                    doc.span(*path, "strategy", section, "maxSkew"),
                    help=f'write it as a percentage: maxSkew: "{skew}%"',
                )
            )
    return rule


def _add_profile(
    profiles: dict[str, Profile], profile: Profile, problems: list[Diagnostic]
) -> None:
    if profile.name in profiles:
        problems.append(
            error(
                "RBG113",
                f"ClusterEngineRuntimeProfile {profile.name} is defined twice",
                profile.span,
                notes=((profiles[profile.name].span, "first defined here"),),
            )
        )
    profiles[profile.name] = profile


def _group_set_v1alpha2(
    doc: Document, default_namespace: str, order: int, conventions: cv.Conventions
) -> list[Group]:
    """A v1alpha2 RoleBasedGroupSet: members `{set}-{i}` from `groupTemplate` (its labels and
    annotations become each member's; the set's own metadata does not, as upstream)."""
    name = doc.body["metadata"]["name"]
    return [
        parse_v1alpha2.group(
            doc,
            ("spec", "groupTemplate", "spec"),
            default_namespace,
            order,
            name=set_member_name(name, i),
            set_index=i,
            metadata_path=("spec", "groupTemplate"),
            conventions=conventions,
        )
        for i in range(doc.body["spec"].get("replicas", 1))
    ]


def _set_too_large(doc: Document, roles_path: JsonPath) -> Diagnostic | None:
    """RBG117 when a RoleBasedGroupSet's groups would hold more pods than a cluster can, said
    before a single group is made (a group without pods counts as one: it is still objects)."""
    replicas = doc.body["spec"].get("replicas", 1)
    roles = value_at(doc.body, roles_path) or ()
    pods = sum(r.get("replicas", 1) for r in roles)  # at least: LWS groups hold `size` each
    if replicas * max(pods, 1) <= MAX_CLUSTER_PODS:
        return None
    return error(
        "RBG117",
        f"RoleBasedGroupSet {doc.body['metadata']['name']} asks for {replicas:,} groups of at "
        f"least {pods} pod(s) each, more than the {MAX_CLUSTER_PODS:,} pods of the largest "
        "cluster Kubernetes supports",
        doc.span("spec", "replicas"),
        help="lower spec.replicas (or the roles' replicas)",
    )


def _profile(doc: Document) -> Profile:
    spec = doc.body.get("spec") or {}
    return Profile(
        name=doc.body["metadata"]["name"],
        init_containers=tuple(spec.get("initContainers") or ()),
        containers=tuple(spec.get("containers") or ()),
        volumes=tuple(spec.get("volumes") or ()),
        span=doc.span("metadata", "name"),
    )


def _passthrough_wave(doc: Document) -> int:
    # Shapes were checked on load (source.object_shape_problems); stay safe for other callers.
    meta = doc.body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    value = annotations.get(cv.SYNC_WAVE) if isinstance(annotations, dict) else None
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _namespace(doc: Document, default_namespace: str) -> str:
    ns = doc.body["metadata"].get("namespace")
    return str(ns) if ns else default_namespace


def _group(
    doc: Document,
    spec_path: JsonPath,
    default_namespace: str,
    order: int,
    conventions: cv.Conventions,
    name: str | None = None,
    set_index: int | None = None,
) -> Group:
    meta = doc.body["metadata"]
    spec = value_at(doc.body, spec_path)
    roles = []
    findings: list[Diagnostic] = []
    for i, raw in enumerate(spec["roles"]):
        role = _role(doc, (*spec_path, "roles", i), raw)
        roles.append(role)
        findings += _form(doc, role, raw)
    return Group(
        name=name or meta["name"],
        namespace=_namespace(doc, default_namespace),
        roles=tuple(roles),
        annotations=dict(meta.get("annotations") or {}),
        labels=dict(meta.get("labels") or {}),
        span=doc.span("metadata", "name"),
        document=doc,
        spec_path=spec_path,
        conventions=conventions,
        findings=tuple(findings),
        order=order,
        pod_group_policy=spec.get("podGroupPolicy"),
        role_templates=role_templates(doc, spec_path, spec),
        coordination=tuple(
            _coordination(doc, (*spec_path, "coordination", i), raw)
            for i, raw in enumerate(spec.get("coordination") or ())
        ),
        set_name=meta["name"] if set_index is not None else None,
        set_index=set_index,
    )


def _coordination(doc: Document, path: JsonPath, raw: dict[str, Any]) -> Coordination:
    strategy = raw.get("strategy") or {}
    rolling = strategy.get("rollingUpdate")
    scaling = strategy.get("scaling")
    return Coordination(
        name=raw["name"],
        roles=tuple(raw["roles"]),
        span=doc.span(*path, "name"),
        rolling_update=None
        if rolling is None
        else CoordinatedRollingUpdate(
            max_skew=rolling.get("maxSkew"),
            partition=rolling.get("partition"),
            max_unavailable=rolling.get("maxUnavailable"),
        ),
        scaling=None
        if scaling is None
        else CoordinatedScaling(
            max_skew=scaling.get("maxSkew", "100%"),
            progression=scaling.get("progression", "OrderScheduled"),
        ),
    )


def _group_set(
    doc: Document, default_namespace: str, order: int, conventions: cv.Conventions
) -> list[Group]:
    name = doc.body["metadata"]["name"]
    replicas = doc.body["spec"].get("replicas", 1)
    return [
        _group(
            doc,
            ("spec", "template"),
            default_namespace,
            order,
            conventions,
            name=set_member_name(name, i),
            set_index=i,
        )
        for i in range(replicas)
    ]


def _role(doc: Document, path: JsonPath, raw: dict[str, Any]) -> Role:
    workload_raw = raw.get("workload") or {}
    workload = Workload(
        api_version=workload_raw.get("apiVersion", "apps/v1"),
        kind=workload_raw.get("kind", "StatefulSet"),
        span=doc.span(*path, "workload") if "workload" in raw else doc.span(*path, "name"),
    )
    rolling = (raw.get("rolloutStrategy") or {}).get("rollingUpdate")
    rolling_update = None
    if rolling is not None:
        rolling_update = RollingUpdate(
            partition=rolling.get("partition", 0),
            max_unavailable=rolling.get("maxUnavailable", 1),
            max_surge=rolling.get("maxSurge", 0),
            span=doc.span(*path, "rolloutStrategy", "rollingUpdate"),
        )
    deps = tuple(
        Dependency(name=d, span=doc.span(*path, "dependencies", i))
        for i, d in enumerate(raw.get("dependencies") or ())
    )
    lws_raw = raw.get("leaderWorkerSet")
    lws = None
    if lws_raw is not None or workload.key == WorkloadKind.LEADERWORKERSET:
        # An absent `leaderWorkerSet` crashed v0.4.0; its size defaults to 1 (v0.5.0+).
        lws_raw = lws_raw or {}
        lws = LeaderWorkerSetSpec(
            size=lws_raw.get("size", 1),
            patch_leader=lws_raw.get("patchLeaderTemplate"),
            patch_worker=lws_raw.get("patchWorkerTemplate"),
            span=doc.span(*path, "leaderWorkerSet") if "leaderWorkerSet" in raw else None,
        )
    return Role(
        name=raw["name"],
        replicas=raw.get("replicas", 1),
        workload=workload,
        template=raw.get("template") or {},
        template_path=(*path, "template"),
        span=doc.span(*path, "name"),
        dependencies=deps,
        rolling_update=rolling_update,
        restart_policy=raw.get("restartPolicy"),
        service_ports=service_ports(doc, path, raw),
        labels=dict(raw.get("labels") or {}),
        annotations=dict(raw.get("annotations") or {}),
        min_ready_seconds=raw.get("minReadySeconds"),
        leader_worker_set=lws,
        engine_runtimes=engine_runtimes(doc, path, raw),
        scaling_adapter=bool((raw.get("scalingAdapter") or {}).get("enable")),
        template_ref=(raw.get("templateRef") or {}).get("name"),
        template_patch=raw.get("templatePatch"),
    )


def _form(doc: Document, role: Role, raw: dict[str, Any]) -> list[Diagnostic]:
    """Where a v1alpha1 role's pod template comes from, as upstream admits it: exactly one
    of `template` and `templateRef` (+ `templatePatch`); `components` is not compiled."""
    path = role.role_path
    if role.kind is None:
        return []  # validate refuses the workload kind: nothing of the role is compiled
    if "components" in raw:
        return [
            error(
                "RBG120",
                "`components` (InstanceSet roles) not supported",
                doc.span(*path, "components", key=True),
                help="rbgc compiles StatefulSet, Deployment and LeaderWorkerSet roles",
            )
        ]
    found = []
    if role.template_ref is not None:
        if "template" in raw:
            found.append(
                error(
                    "RBG130",
                    f"role {role.name!r} sets both `template` and `templateRef`",
                    doc.span(*path, "templateRef", key=True),
                    help="keep one: a role's pod template comes from exactly one place",
                )
            )
        if role.kind is WorkloadKind.LEADERWORKERSET:
            found.append(
                error(
                    "RBG130",
                    f"role {role.name!r}: `templateRef` is not allowed on LeaderWorkerSet roles "
                    "(upstream rule)",
                    doc.span(*path, "templateRef", key=True),
                    help="use `template` with `leaderWorkerSet.patchLeaderTemplate` / "
                    "`patchWorkerTemplate`",
                )
            )
        if role.template_patch is None:
            found.append(
                error(
                    "RBG130",
                    f"role {role.name!r} uses `templateRef` without `templatePatch`",
                    doc.span(*path, "templateRef", key=True),
                    help="add `templatePatch: {}` to use the template as is (upstream requires it)",
                )
            )
    elif role.template_patch is not None:
        found.append(
            error(
                "RBG130",
                f"role {role.name!r} has `templatePatch` without `templateRef`",
                doc.span(*path, "templatePatch", key=True),
                help="a patch applies to a referenced role template; add `templateRef` or merge "
                "the patch into `template`",
            )
        )
    elif "template" not in raw:
        found.append(
            error(
                "RBG103",
                f"role {role.name!r} has no pod `template`",
                role.span,
                help="add `template:` with the role's pod spec, or `templateRef` + `templatePatch`",
            )
        )
    return found


def _holds_rbg_items(doc: Document) -> bool:
    """A `v1 List` (kubectl's format) whose items include RBG objects."""
    items = doc.body.get("items")
    return (
        doc.kind.endswith("List")
        and isinstance(items, list)
        and any(
            isinstance(i, dict) and str(i.get("apiVersion", "")).startswith(cv.API_GROUP + "/")
            for i in items
        )
    )
