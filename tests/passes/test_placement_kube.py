"""Placement lowered for kube-scheduler: the fields that make the scheduler enforce what rbgc
says (issue 17 items 4 and 6), each pinned to the Kubernetes rule it follows."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.k8s import conventions as cv
from rbgc.model import Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"


def group(router_kind: str = "Deployment") -> str:
    return f"""\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: pd, namespace: llm}}
spec:
  roles:
  - name: router
    replicas: 2
    workload: {{apiVersion: apps/v1, kind: {router_kind}}}
    template: {{spec: {{containers: [{{name: main, image: x:1}}]}}}}
  - name: prefill
    replicas: 2
    template: {{spec: {{containers: [{{name: main, image: x:1}}]}}}}
"""


def placement(rules: str) -> str:
    body = "\n".join("  " + line for line in rules.strip().splitlines())
    return (
        "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        f"metadata: {{name: pd, namespace: llm}}\nspec:\n  rules:\n{body}\n"
    )


def build(text: str, version: tuple[int, int] = (1, 33)) -> Result:
    docs = parse_text(text, "pd.yaml")
    return compile_documents(docs, Options(target=Target(kubernetes_version=version)))


def pod_spec(result: Result, role: str) -> dict[str, Any]:
    (m,) = [
        m
        for m in result.bundle.manifests
        if m.role == role and m.kind in ("Deployment", "StatefulSet")
    ]
    spec: dict[str, Any] = m.body["spec"]["template"]["spec"]
    return spec


# --- item 4: a rollout's surge pod is not repelled by its own old revision ------------------
# A required anti-affinity counts every pod its selector matches, the old ReplicaSet's too, so
# 2 routers separated on 2 hosts leave a surge pod nowhere to go. `matchLabelKeys` merges the
# incoming pod's value of each key into the term's selector (KEP-3633,
# MatchLabelKeysInPodAffinity, beta and on by default in 1.31: Kubernetes blog 2024-08-16
# "MatchLabelKeys in PodAffinity graduates to beta"; the Deployment controller labels each
# ReplicaSet's pods `pod-template-hash`), so a term counts only its own revision.

SEPARATE = "- roles: [router]\n  separate: {level: host}"
PACK = "- roles: [router]\n  pack: {required: zone}"


@pytest.mark.parametrize(("rule", "where"), [(SEPARATE, "podAntiAffinity"), (PACK, "podAffinity")])
def test_deployment_terms_count_one_revision_from_1_31(rule: str, where: str) -> None:
    (term,) = pod_spec(build(group() + placement(rule)), "router")["affinity"][where][REQ]
    assert term["matchLabelKeys"] == [cv.POD_TEMPLATE_HASH]
    # before 1.31 the API server drops the field (gate off): rbgc does not write it
    (old,) = pod_spec(build(group() + placement(rule), (1, 30)), "router")["affinity"][where][REQ]
    assert "matchLabelKeys" not in old


def test_statefulset_and_multi_role_terms_count_every_pod() -> None:
    # a StatefulSet deletes a pod before it makes its successor: no surge, nothing to split
    result = build(group("StatefulSet") + placement(SEPARATE))
    (term,) = pod_spec(result, "router")["affinity"]["podAntiAffinity"][REQ]
    assert "matchLabelKeys" not in term
    # two roles' pods carry two hashes (or none): one revision's selector would miss the rest
    result = build(group() + placement("- roles: [router, prefill]\n  separate: {level: host}"))
    (term,) = pod_spec(result, "router")["affinity"]["podAntiAffinity"][REQ]
    assert "matchLabelKeys" not in term


def test_facts_say_how_a_term_counts() -> None:
    facts = build(group() + placement(SEPARATE)).bundle.group("llm", "pd")
    assert facts is not None
    (rule,) = facts.placement
    assert (rule.match_label_keys, rule.lowered, rule.enforced_by) == (
        (cv.POD_TEMPLATE_HASH,),
        True,
        "kube-scheduler",
    )
    old = build(group() + placement(SEPARATE), (1, 30)).bundle.group("llm", "pd")
    assert old is not None and old.placement[0].match_label_keys == ()


# --- item 6: spread minDomains and nodeTaintsPolicy -------------------------------------------
# Kubernetes "Pod Topology Spread Constraints": `nodeTaintsPolicy` defaults to Ignore, so a
# zone whose nodes all carry a taint the pods do not tolerate still counts as a domain (its
# zero pods hold the global minimum down and can block placement); `Honor` leaves it out
# (NodeInclusionPolicyInPodTopologySpread, beta in 1.26). `minDomains` makes the global minimum
# 0 while fewer domains are eligible; the API server accepts it only with DoNotSchedule
# (MinDomainsInPodTopologySpread, beta in 1.27).


def test_required_spread_honours_taints_and_min_domains() -> None:
    rule = "- roles: [router]\n  spread: {level: zone, required: true, minDomains: 3}"
    result = build(group() + placement(rule))
    (spread,) = pod_spec(result, "router")["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert (spread["minDomains"], spread["nodeTaintsPolicy"]) == (3, "Honor")
    facts = result.bundle.group("llm", "pd")
    assert facts is not None
    assert (facts.placement[0].min_domains, facts.placement[0].node_taints_policy) == (3, "Honor")


def test_preferred_spread_honours_taints_too() -> None:
    result = build(group() + placement("- roles: [router]\n  spread: {level: zone}"))
    (spread,) = pod_spec(result, "router")["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["nodeTaintsPolicy"] == "Honor" and "minDomains" not in spread


def test_min_domains_needs_a_required_spread() -> None:
    rule = "- roles: [router]\n  spread: {level: zone, minDomains: 2}"
    with pytest.raises(DiagnosticError) as exc:
        build(group() + placement(rule))
    (found,) = [d for d in exc.value.diagnostics if d.severity == "error"]
    assert found.code == "RBG310" and "DoNotSchedule" in found.message
    # at the `minDomains` key
    assert found.span is not None and (found.span.line, found.span.col) == (20, 27)


# --- item 3: a pack beside the role's own required pod affinity --------------------------------
# pkg/scheduler/framework/plugins/interpodaffinity/filtering.go: `updateWithAffinityTerms`
# counts an existing pod only if it matches ALL of the incoming pod's required terms, and
# `satisfyPodAffinity` lets the first pod through only if it matches all its own terms
# (kubernetes/kubernetes#130784). A pack term beside a term selecting a cache is never met.

CACHE_TERM = """\
    affinity:
      podAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector: {matchLabels: {app: cache}}
          topologyKey: kubernetes.io/hostname
"""


def with_own_term(labels: str = "") -> str:
    return group("StatefulSet").replace(
        "  - name: prefill\n    replicas: 2\n    template: {spec: {containers: [{name: main, "
        "image: x:1}]}}\n",
        "  - name: prefill\n    replicas: 2\n    template:\n"
        f"      metadata: {{labels: {{{labels}}}}}\n"
        "      spec:\n        containers: [{name: main, image: x:1}]\n"
        + "\n".join("    " + line for line in CACHE_TERM.splitlines())
        + "\n",
    )


def test_a_pack_beside_a_term_on_other_pods_is_only_preferred() -> None:
    text = with_own_term() + placement("- roles: [router, prefill]\n  pack: {required: zone}")
    result = build(text)
    affinity = pod_spec(result, "prefill")["affinity"]["podAffinity"]
    # the user's term stays the only required one; the pack's zone becomes a preference
    cache = {"labelSelector": {"matchLabels": {"app": "cache"}}}
    assert affinity[REQ] == [{**cache, "topologyKey": "kubernetes.io/hostname"}]
    assert [t["podAffinityTerm"]["topologyKey"] for t in affinity[PREF]][-1] == (
        "topology.kubernetes.io/zone"
    )
    (warned,) = [w for w in result.warnings if w.code == "RBG318"]
    assert warned.notes and warned.notes[0][0] is not None
    facts = result.bundle.group("llm", "pd")
    assert facts is not None and facts.placement[0].lowered is False


def test_a_term_the_packs_pods_all_match_keeps_the_pack_required() -> None:
    # both roles' pods carry app: cache here, so one of them can anchor every term
    text = with_own_term("app: cache").replace(
        "  - name: router\n    replicas: 2\n    workload: {apiVersion: apps/v1, kind: "
        "StatefulSet}\n    template: {spec:",
        "  - name: router\n    replicas: 2\n    workload: {apiVersion: apps/v1, kind: "
        "StatefulSet}\n    template: {metadata: {labels: {app: cache}}, spec:",
    ) + placement("- roles: [router, prefill]\n  pack: {required: zone}")
    result = build(text)
    required = pod_spec(result, "prefill")["affinity"]["podAffinity"][REQ]
    assert [t["topologyKey"] for t in required] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]
    assert "RBG318" not in {w.code for w in result.warnings}
