"""Apply a compiled bundle to a cluster in waves and carry out the planned rollout: `rbgc sync`.

    cluster.py     the one narrow interface to a cluster (a Protocol) and `ClusterError`
    kube.py        the real adapter on the official `kubernetes` client (imported lazily)
    simulator.py   an in-memory cluster that plays the workload controllers, for previews/tests
    plan.py        bundle x live objects -> ordered `SyncStep`s (pure: no I/O)
    controller.py  runs the steps against a `Cluster`: apply, wait for readiness, time out

Importing this package is cheap: the `kubernetes` client (~380 ms) is imported by kube.py only
when a real cluster is reached.
"""
