"""Upstream's `RoleBasedGroupWarmup` (KEP-129): pull images (and run warm-up containers) on
nodes before their pods need them.

    spec.py    the warm-up as the build decided it (frozen; the Bundle carries it to sync)
    parse.py   the front end: a `workloads.x-k8s.io/v1alpha2` document -> `Warmup`, with
               upstream's CEL rules
    jobs.py    the lowering: one warm-up Job per target node, as the build emits it and as
               `rbgc sync` creates it for nodes it finds in the cluster (one definition)
"""
