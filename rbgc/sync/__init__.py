"""Apply a compiled bundle to a cluster in waves and carry out the planned rollout: `rbgc sync`.

    cluster.py     the one narrow interface to a cluster (a Protocol) and `ClusterError`
    kube.py        the real adapter on the official `kubernetes` client (imported lazily)
    simulator.py   an in-memory cluster that plays the workload controllers, for previews/tests
    plan.py        bundle x live objects -> ordered `SyncStep`s (pure: no I/O)
    applyset.py    KEP-3659 ApplySet keys: what rbgc owns, one ApplySet per group (pure)
    ownership.py   reads a group's ApplySet and members; adds the ownership and prune steps,
                   cuts the plan into one lane per group
    resume.py      what an upgrade records so that a rerun resumes at its step (pure)
    lease.py       one sync at a time per group: a coordination.k8s.io Lease
    informer.py    what a sync waits on, by list + watch (one watch per kind and namespace)
    ratelimit.py   --qps / --burst: a token bucket over every request (client-go's)
    controller.py  runs the steps against a `Cluster`: lanes in parallel, apply, wait, time out
    failure.py     how a sync ends early: typed failures -> diagnostics and exit codes; signals
    connect.py     where a sync runs (`Where`) and the `Connection` made from it
    run.py         one call: connect, lock, plan, execute
    restarts.py    which recreation a restarted pod calls for, and its backoff (pure)
    watch.py       `--watch`: leader Lease, list + watch pods, recreate, converge again
    metrics.py     `--watch`'s Prometheus metrics and /healthz, /readyz
    live.py        the live view on a terminal: per group, wave and role, redrawn in place

Importing this package is cheap: the `kubernetes` client (~380 ms) is imported by kube.py only
when a real cluster is reached.
"""
