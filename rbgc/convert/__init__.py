"""`rbgc convert`: rewrite RBG manifests between `workloads.x-k8s.io/v1alpha1` and `v1alpha2`.

The field mapping is upstream's conversion webhook (`api/workloads/v1alpha1/*_conversion.go`
at v0.8.0-alpha.5), one module per direction: `to_v1alpha2.py` (its `ConvertTo`) and
`to_v1alpha1.py` (its `ConvertFrom`), sharing `mapping.py` (kinds, codes, findings) and the
ruamel.yaml edit kit of `edit.py`. `rewrite.py` applies them to YAML text with ruamel.yaml's
round trip, so comments, key order and quoting survive and documents that are not converted
are copied byte for byte. Only the `convert` command imports this package (ruamel.yaml is
slow to import and the build never needs it).
"""
