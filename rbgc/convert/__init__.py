"""`rbgc convert`: rewrite RBG manifests between `workloads.x-k8s.io/v1alpha1` and `v1alpha2`.

`mapping.py` is the field mapping, as upstream's conversion webhook does it
(`api/workloads/v1alpha1/*_conversion.go` at v0.8.0-alpha.5); `rewrite.py` applies it to YAML
text with ruamel.yaml's round trip, so comments, key order and quoting survive and documents
that are not converted are copied byte for byte. Only the `convert` command imports this
package (ruamel.yaml is slow to import and the build never needs it).
"""
