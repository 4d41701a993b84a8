"""Kubernetes-side knowledge: upstream conventions, object naming, the manifest record."""
