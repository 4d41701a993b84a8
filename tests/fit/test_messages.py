"""What `rbgc fit` says when a group does not fit: the binding resource, the count, one form
per figure (issue 18.8)."""

from __future__ import annotations

from tests.fit.helpers import group, inventory, node, one, role


def test_a_group_without_any_pack_names_the_binding_resource_and_the_count() -> None:
    # 5 pods of 6 GPUs on 4 nodes of 8: 30 of 32 GPUs in all, but a node holds one pod
    answer = one(group(role("w", 5, gpu=6)), inventory([node(f"n{i}", gpu=8) for i in range(4)]))
    assert not answer.fits
    assert (
        answer.reason
        == "only 4 of 5 pods (w) fit: each needs 6 nvidia.com/gpu and a node holds one"
    )


def test_nodes_of_several_sizes_are_counted_together() -> None:
    nodes = [node("n0", gpu=8), node("n1", gpu=4), node("n2", gpu=16)]
    # 4-GPU pods: 2 + 1 + 4 of them fit, 5 do
    assert one(group(role("w", 5, gpu=4)), inventory(nodes)).fits
    # 6-GPU pods: n1 cannot take one at all; n0 one, n2 two
    answer = one(group(role("w", 6, gpu=6)), inventory(nodes))
    assert answer.reason == (
        "only 3 of 6 pods (w) fit: each needs 6 nvidia.com/gpu and the 2 node(s) they may use "
        "hold 3 in all"
    )


def test_figures_of_one_resource_share_one_form() -> None:
    # 157 CPUs asked, 155.7 free: not `157` beside `155700m`
    answer = one(group(role("w", 1, cpu="157")), inventory([node("n0", cpu="155700m")]))
    assert answer.reason == (
        "pod g-w-0 (w) fits on none of the 1 node(s): 1 have too little free cpu (needs 157; at "
        "most 155.7 free on a node that passes the other filters)"
    )


def test_most_free_is_taken_over_the_nodes_that_pass_every_other_filter() -> None:
    # n0 has the CPUs but too few GPUs, n1 the GPUs but too few CPUs, n2 both but the wrong
    # tier: the CPUs n0 has do not help a pod that n0 refuses for its GPUs
    nodes = [
        node("n0", cpu="8", gpu=4, labels={"tier": "a"}),
        node("n1", cpu="1", gpu=8, labels={"tier": "a"}),
        node("n2", cpu="64", gpu=8, labels={"tier": "b"}),
    ]
    spec = "nodeSelector: {tier: a}\n"
    answer = one(group(role("w", 1, gpu=8, cpu="4", spec=spec)), inventory(nodes))
    assert answer.reason == (
        "pod g-w-0 (w) fits on none of the 3 node(s): 1 do not match the pod's nodeSelector; 1 "
        "have too little free cpu (needs 4; at most 1 free on a node that passes the other "
        "filters); 1 have too little free nvidia.com/gpu (needs 8; at most 4 free on a node that "
        "passes the other filters)"
    )


def test_when_no_bound_proves_it_the_best_attempt_is_described() -> None:
    # 6 + 6 + 4 GPUs on two 8-GPU nodes: each kind fits and 16 GPUs are free in all, but no
    # node keeps the 4-GPU pod once the 6-GPU ones are placed
    text = group(role("a", 2, gpu=6) + role("b", 1, gpu=4))
    answer = one(text, inventory([node("n0", gpu=8), node("n1", gpu=8)]))
    assert answer.reason == (
        "the pods fit one by one but not all at once: 2 of 3 placed, then pod g-b-0 (b) found "
        "no node: it needs 4 nvidia.com/gpu and the most left on a node it may use is 2 (after "
        "2 attempt(s))"
    )
