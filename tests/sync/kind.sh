#!/usr/bin/env bash
# The opt-in real-cluster suite (tests/sync/test_real_cluster.py) against a throw-away local
# cluster: kind (needs docker), deleted afterwards. From the repository root, after `make venv`:
#
#     tests/sync/kind.sh
#
# k3d works the same way: `k3d cluster create rbgc-e2e --wait` and
# `k3d kubeconfig get rbgc-e2e > FILE`, then RBGC_TEST_KUBECONFIG=FILE as below.
set -euo pipefail
name=rbgc-e2e
kind create cluster --name "$name" --wait 180s
trap 'kind delete cluster --name "$name"' EXIT
kubeconfig=$(mktemp)
kind get kubeconfig --name "$name" > "$kubeconfig"
RBGC_TEST_KUBECONFIG="$kubeconfig" .venv/bin/pytest -q -p no:cacheprovider \
  tests/sync/test_real_cluster.py "$@"
