"""Object names exactly as upstream v0.4.0 builds them, plus the checks it forgot.

Upstream never checked names (rbg-semantics.md §1.5, §16.20); v0.5.0+ truncates to 63, which
can make two roles collide. rbgc keeps the v0.4.0 names and refuses the ones Kubernetes would
reject, at compile time.
"""

from __future__ import annotations

import re

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

MAX_LABEL = 63
# A StatefulSet's pods get `controller-revision-hash: {name}-{10-char hash}`, a label value of
# at most 63 characters, so the StatefulSet name itself may have at most 52.
MAX_STATEFULSET_NAME = 52


def role_object_name(group: str, role: str) -> str:
    """Name of the workload, headless Service and ConfigMap of a role: `{group}-{role}`."""
    return f"{group}-{role}"


def instance_address(group: str, role: str, index: int) -> str:
    """DNS name of one StatefulSet pod through the role's headless Service.

    v0.4.0 wrote `{role}-{i}.{group}-{role}`, which does not resolve; upstream fixed it in
    v0.6.0 to the pod's real name, which rbgc uses.
    """
    name = role_object_name(group, role)
    return f"{name}-{index}.{name}"


def set_member_name(set_name: str, index: int) -> str:
    """Name of the i-th RoleBasedGroup of a RoleBasedGroupSet."""
    return f"{set_name}-{index}"
