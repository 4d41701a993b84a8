"""rbgc: a compiler from RoleBasedGroup specs to plain Kubernetes objects."""

__version__ = "0.1.0"
