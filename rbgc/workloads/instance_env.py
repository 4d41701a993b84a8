"""The variables and pod labels the operator's RoleInstance controller gives each pod of an
instance, as the compiled pods can have them (v1alpha2 semantics §2.4, §3.5)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.model import Role
from rbgc.workloads.context import PodTemplate, RoleContext

# What the operator's RoleInstance controller tells each pod (v1alpha2 semantics §2.4), in
# its batch order; lowerings give them values the compiled pods can have (§3.5).
ENV_COMPONENT_INDEX = "RBG_COMPONENT_INDEX"
ENV_COMPONENT_NAME = "RBG_COMPONENT_NAME"
ENV_ROLE_INDEX = "RBG_ROLE_INDEX"
ENV_INSTANCE_NAME = "RBG_ROLE_INSTANCE_NAME"
ENV_LEADER_ADDRESS = "RBG_LWP_LEADER_ADDRESS"
ENV_WORKER_INDEX = "RBG_LWP_WORKER_INDEX"
ENV_GROUP_SIZE = "RBG_LWP_GROUP_SIZE"


# Labels only the RoleInstance controller stamps on pods, and the variable that holds the
# same value in a compiled pod: a user's fieldRef to one is rewritten to it (§3.5).
OPERATOR_LABELS = {
    cv.INSTANCE_INDEX_LABEL: ENV_ROLE_INDEX,
    cv.INSTANCE_NAME_LABEL: ENV_INSTANCE_NAME,
    cv.COMPONENT_NAME_LABEL: ENV_COMPONENT_NAME,
    cv.COMPONENT_ID_LABEL: ENV_COMPONENT_INDEX,
    cv.COMPONENT_INDEX_LABEL: ENV_WORKER_INDEX,
    cv.COMPONENT_SIZE_LABEL: ENV_GROUP_SIZE,
}
# ...and, on a stateful instance of several pods (leader/worker, components), the
# StatefulSet controller's pod-name label, which the operator sets to the instance's name
INSTANCE_LABELS = {**OPERATOR_LABELS, cv.POD_NAME_LABEL: ENV_INSTANCE_NAME}
LABEL_FIELD = re.compile(r"metadata\.labels\['([^']+)'\]")


def lowered_variables(role: Role) -> frozenset[str]:
    """The lowering's share of HEAD's common batch (`env_builder.go:91-130`), which discovery
    sorts with the injected RBG_GROUP_NAME / RBG_ROLE_NAME after the user's own RBG_*
    variables: a RoleInstanceSet role's instance variables, the index only if stateful."""
    if role.instance_set is None:
        return frozenset()
    names = {ENV_COMPONENT_INDEX, ENV_COMPONENT_NAME, ENV_INSTANCE_NAME}
    return frozenset(names | {ENV_ROLE_INDEX} if role.stateful else names)


def literal(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def field_ref(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def label_ref(name: str, label: str) -> dict[str, Any]:
    return field_ref(name, f"metadata.labels['{label}']")


def with_labels(template: dict[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """`template` (changed in place) with `labels` over its own: the operator's pod labels
    every pod of a compiled template shares (`instance_utils.go:91-103`,
    `roleinstanceset_reconciler.go:330-332,411-431,462-464`), which selectors may read."""
    meta = template.setdefault("metadata", {})
    meta["labels"] = dict(sorted({**(meta.get("labels") or {}), **labels}.items()))
    return template


def standalone_instance(ctx: RoleContext, pod: PodTemplate) -> PodTemplate:
    """A standalone RoleInstance is one pod, named like the instance (§3.5): its component
    is the role itself, index 0, size 1."""
    if ctx.role.instance_set is None:
        return pod
    env = [
        literal(ENV_COMPONENT_INDEX, "0"),
        literal(ENV_COMPONENT_NAME, ctx.role.name),
        field_ref(ENV_INSTANCE_NAME, "metadata.name"),
    ]
    # values a user's fieldRef may need that the injection itself leaves to discovery
    known = [literal(ENV_GROUP_SIZE, "1")]
    if ctx.role.stateful:
        known.append(field_ref(ENV_ROLE_INDEX, cv.POD_INDEX_FIELD))
    body = with_labels(
        with_env(pod.body, env, known),
        {
            cv.COMPONENT_NAME_LABEL: ctx.role.name,
            cv.COMPONENT_ID_LABEL: "0",
            cv.COMPONENT_SIZE_LABEL: "1",
        },
    )
    return PodTemplate(body=body, source_path=pod.source_path)


def with_env(
    template: dict[str, Any],
    env: list[dict[str, Any]],
    known: Sequence[dict[str, Any]] = (),
    labels: Mapping[str, str] = OPERATOR_LABELS,
) -> dict[str, Any]:
    """A copy of `template` whose containers (not init containers, as the operator) start
    with `env`; a variable of the same name the container had is replaced, and one that reads
    a label the operator stamps (`labels`) reads the same value from where `env` (or `known`)
    has it, in init containers too (the labels are the pod's)."""
    out = copy.deepcopy(template)
    names = {e["name"] for e in env}
    values = {e["name"]: e for e in [*known, *env]}
    spec = out.get("spec", {})
    for container in spec.get("containers") or ():
        own = [
            _rewritten(e, values, labels)
            for e in container.get("env") or ()
            if e.get("name") not in names
        ]
        container["env"] = [*copy.deepcopy(env), *own]
    for container in spec.get("initContainers") or ():
        if container.get("env"):
            container["env"] = [_rewritten(e, values, labels) for e in container["env"]]
    return out


def _rewritten(var: Any, values: Mapping[str, dict[str, Any]], labels: Mapping[str, str]) -> Any:
    field = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    match = LABEL_FIELD.fullmatch(field) if isinstance(field, str) else None
    source = values.get(labels.get(match.group(1), "")) if match else None
    if source is None:
        return var
    return {"name": var["name"], **copy.deepcopy({k: v for k, v in source.items() if k != "name"})}
