"""Overlays: an environment's changes to a base, applied to plain documents before parsing.

An overlay is a document of its own (`rbgc.io/v1alpha1` `Overlay`, schema in
`schemas/overlay.v1alpha1.schema.json`) that names a base (a file or a folder, which may hold
another overlay) and says how to change it, the way kustomize users expect:

    patches -> images -> namespace -> namePrefix/nameSuffix -> commonLabels/commonAnnotations

Patches merge mappings key by key and lists of named items (roles, containers, env, ports,
volumes...) by `name`, which kustomize cannot do for a custom resource's lists; `$patch: delete`
drops a named item (a role), `$patch: replace` replaces a value instead of merging it, and
`null` removes a key. Labels never go into selectors: rbgc derives those from the group and role
names, so a name prefix or suffix renames the group (and label selectors of other documents
that pointed at the old group name follow it).

The result is ordinary `Document`s whose spans point at the base file for what the base wrote
and at the overlay file for what the overlay set, so later diagnostics land on the right line.
"""

from rbgc.overlays.resolve import find_root, resolve
from rbgc.overlays.spec import API_VERSION, KIND, SCHEMA_PATH, check, is_overlay, schema
from rbgc.overlays.transforms import join_image, split_image

__all__ = [
    "API_VERSION",
    "KIND",
    "SCHEMA_PATH",
    "check",
    "find_root",
    "is_overlay",
    "join_image",
    "resolve",
    "schema",
    "split_image",
]
