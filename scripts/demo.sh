#!/usr/bin/env bash
# `make demo`: what rbgc does to each example, in a screenful: the waves it found, the objects
# it wrote and where, then one validation and one upgrade plan. The YAML itself stays in files.
set -euo pipefail
rbgc=${BIN:-.venv/bin}/rbgc
python=${BIN:-.venv/bin}/python
out=${DEMO_OUT:-rendered/demo}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for file in examples/*.yaml; do
  dest=$out/$(basename "$file" .yaml)
  echo "== rbgc build --strict $file --out $dest --layout waves"
  if ! "$rbgc" build --strict --explain "$file" --out "$dest" --layout waves 2>"$log"; then
    cat "$log"
    exit 1
  fi
  # the waves (from --explain), any warning, and the "wrote N object(s) to DIR" line
  sed -n -e 's/^\[dependencies\] /  /p' -e '/warning\[/s/^/  /p' -e 's/^rbgc: wrote /  wrote /p' "$log"
  # the same build again, for its object counts: its warnings were shown just above
  "$rbgc" build "$file" -o json 2>/dev/null | "$python" -c '
import collections, json, sys
kinds = collections.Counter(item["kind"] for item in json.load(sys.stdin)["items"])
print("  objects: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))'
done

echo "== rbgc validate examples/"
# its summary; the warnings it counts are the builds' above, shown once
if ! "$rbgc" validate examples/ 2>"$log"; then
  cat "$log"
  exit 1
fi

echo "== rbgc plan examples/pd-disaggregated.yaml upgrades/pd-v2.yaml (its first step)"
status=0
"$rbgc" plan examples/pd-disaggregated.yaml upgrades/pd-v2.yaml >"$log" || status=$?
[ "$status" -le 1 ] || { cat "$log"; exit "$status"; }  # 1 means "changes", as kubectl diff
sed -n '1,/^$/p; /^step 1 /,/^$/p' "$log" | sed '/^$/d'
echo "   ... the whole plan: rbgc plan examples/pd-disaggregated.yaml upgrades/pd-v2.yaml"
echo "== the objects are in $out/<example>/wave-<n>/ (rbgc build FILE prints them as YAML)"
