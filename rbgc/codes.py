"""The diagnostic code table: every code's name, summary, why, example and fix.

`rbgc explain CODE` prints an entry, the README's table lists them all (a test keeps both
complete), and the JSON reporter (`report.as_json`) reads the names. Kept apart from
diagnostics.py, as ruff keeps its rule table apart from its diagnostics: a build that reports
nothing never builds the table, and diagnostics.py imports nothing of rbgc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbgc.diagnostics import Severity


@dataclass(frozen=True, slots=True)
class CodeDoc:
    """One registry entry, in ruff's rule-doc shape; `rbgc explain CODE` prints it."""

    code: str
    name: str
    summary: str
    why: str
    example: str = ""
    fix: str = ""
    severity: Severity = Severity.ERROR
    notes: tuple[str, ...] = field(default=())

    def render(self) -> str:
        parts = [
            f"{self.code} ({self.name}) [{self.severity}]",
            "",
            self.summary,
            "",
            "## Why",
            self.why,
        ]
        if self.example:
            parts += ["", "## Example", self.example.rstrip()]
        if self.fix:
            parts += ["", "## Use instead", self.fix.rstrip()]
        for note in self.notes:
            parts += ["", note]
        return "\n".join(parts) + "\n"


def _doc(*docs: CodeDoc) -> dict[str, CodeDoc]:
    return {d.code: d for d in docs}


CODES: dict[str, CodeDoc] = _doc(
    CodeDoc(
        "RBG001",
        "yaml-syntax-error",
        "The file is not well-formed YAML.",
        "Nothing can be compiled from a file the YAML parser rejects.",
        "roles:\n  - name: a\n   replicas: 1   # bad indentation",
        fix=(
            "Indent with spaces only, each field of a mapping at the same column; the `help:` "
            "line compares the line with the one above it. A YAML language server (README, "
            "Editors) shows the problem as you type."
        ),
    ),
    CodeDoc(
        "RBG002",
        "duplicate-key",
        "A mapping has the same key twice.",
        "YAML loaders disagree on which value wins (the API server keeps the last, some "
        "tools the first); rbgc refuses to guess so nothing you wrote is silently lost.",
        "metadata:\n  name: a\n  name: b",
        "Keep one of the keys.",
    ),
    CodeDoc(
        "RBG003",
        "unsupported-tag",
        "A YAML tag other than the plain JSON-compatible ones.",
        "Custom tags (`!!python/object`, `!Ref`, `!!binary`, ...) could make a loader run code "
        "or build values Kubernetes cannot store. rbgc never constructs them.",
        "image: !!python/object/apply:os.system ['id']",
        "Write the plain value.",
    ),
    CodeDoc(
        "RBG004",
        "non-string-key",
        "A mapping key that is not a string.",
        "Kubernetes objects are JSON: every key is a string. Unquoted `1`, `true`, `on` or "
        "`null` are read as numbers, booleans or null by YAML 1.1.",
        "labels:\n  on: x",
        'labels:\n  "on": x',
    ),
    CodeDoc(
        "RBG005",
        "yaml-too-large",
        "The document holds, or its aliases expand to, too many values.",
        "Aliases can make a small file expand to billions of values (the 'billion laughs' "
        "attack), and a document of millions of plain values takes seconds and gigabytes to "
        "load; rbgc caps both, counting values as it reads. No Kubernetes object comes near "
        "the caps: etcd stores at most 1.5 MiB per object.",
        example=(
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]   # each line multiplies by 9"
        ),
        fix=(
            "Write the values out instead of nesting aliases; keep generated data (a large "
            "ConfigMap, a dump) out of the folders rbgc reads."
        ),
    ),
    CodeDoc(
        "RBG006",
        "invalid-utf8",
        "The file is not valid UTF-8.",
        "Kubernetes manifests are UTF-8 text; other encodings are corrupted on the way to the "
        "API server.",
        example="a manifest saved as Latin-1 or UTF-16 (`file manifest.yaml` says which)",
        fix="Save the file as UTF-8 (`iconv -f latin1 -t utf-8 manifest.yaml > fixed.yaml`).",
    ),
    CodeDoc(
        "RBG007",
        "file-too-large",
        "The file is larger than rbgc reads.",
        "A manifest file of many megabytes is almost always a mistake (a binary, a dump); "
        "reading it would stall every Argo CD refresh.",
        example="rbgc build apps/   # apps/ also holds backup.yaml, a 20 MiB dump",
        fix="Move the file out of the folders you pass to rbgc, or pass only the manifest files.",
    ),
    CodeDoc(
        "RBG008",
        "unreadable-input",
        "An input path cannot be read.",
        "The path does not exist, is not a file or directory, or cannot be opened.",
        example="rbgc build examples/pd-disagregated.yaml   # misspelt path",
        fix="Check the path (relative to the current folder); `-` reads standard input.",
    ),
    CodeDoc(
        "RBG009",
        "not-a-kubernetes-object",
        "A YAML document is not a mapping with string `apiVersion` and `kind`, or the fields "
        "every object shares have the wrong shape.",
        "Every document in a manifest folder must be a Kubernetes object; anything else "
        "would be rejected by the API server after rbgc had passed it on. Whatever the kind, "
        "`metadata` is a mapping, its `labels` and `annotations` map strings to strings, "
        "`name` and `namespace` are strings, `kind` and `apiVersion` are identifiers and "
        "`spec`, when present, is a mapping.",
        "- just\n- a list",
        "apiVersion: v1\nkind: ConfigMap\n...",
    ),
    CodeDoc(
        "RBG010",
        "recursive-alias",
        "An anchored node contains an alias to itself.",
        "A recursive structure has no JSON form and cannot be sent to Kubernetes.",
        example=("a: &x\n  b: *x   # the mapping contains itself"),
        fix=(
            "Replace the alias by the value it should repeat: a Kubernetes object is a tree, "
            "never a cycle."
        ),
    ),
    CodeDoc(
        "RBG011",
        "no-input",
        "No YAML documents were found in the inputs.",
        "An empty build would let a GitOps tool with pruning delete everything it manages; "
        "rbgc treats 'nothing to compile' as an error.",
        example="rbgc build apps/   # apps/ holds only a README.md and a Helm values.yaml",
        fix=(
            "Pass the files or folders that hold your manifests (`*.yaml`, `*.yml`; hidden ones "
            "are skipped)."
        ),
    ),
    CodeDoc(
        "RBG101",
        "schema-violation",
        "A field has the wrong type or an invalid value.",
        "The RoleBasedGroup schema (schemas/) is what the upstream CRD accepts; anything "
        "else would be refused by the API server or break the operator's semantics.",
        "replicas: two",
        "replicas: 2",
    ),
    CodeDoc(
        "RBG102",
        "unknown-field",
        "A RoleBasedGroup field that does not exist.",
        "The API server would prune an unknown field silently, so a typo such as "
        "`dependecies` would quietly drop your start order.",
        "dependecies: [leader]",
        "dependencies: [leader]",
    ),
    CodeDoc(
        "RBG103",
        "missing-field",
        "A required field is missing.",
        "The upstream CRD requires it, and rbgc cannot infer it.",
        "roles:\n  - replicas: 1",
        "roles:\n  - name: worker\n    replicas: 1",
    ),
    CodeDoc(
        "RBG110",
        "duplicate-name",
        "Two roles, role templates or coordination rules of one group share a name.",
        "These lists are list-maps keyed by `name`: the API server rejects duplicates, and "
        "generated object names would collide.",
        example=(
            "roles:\n  - name: decode\n    ...\n  - name: decode   # a second role of the same name"
        ),
        fix=(
            "Rename one of them (names become object names and dependency targets), or merge "
            "them into one."
        ),
    ),
    CodeDoc(
        "RBG111",
        "invalid-name",
        "A group or role name cannot be used in object names.",
        "Group and role names become `{group}-{role}` object names, Service names (DNS-1035 "
        "labels: lowercase letters, digits and '-', starting with a letter) and label values. "
        "Upstream v0.4.0 accepted such names and then created broken objects.",
        "- name: Prefill_0",
        "- name: prefill-0",
    ),
    CodeDoc(
        "RBG112",
        "name-too-long",
        "A generated object name exceeds Kubernetes' limits.",
        "StatefulSet pods carry a `controller-revision-hash` label `{name}-{hash}` that must fit "
        "in 63 characters, so `{group}-{role}` may be at most 52 characters for StatefulSet "
        "roles and 63 otherwise. Upstream later truncated names, which can make roles collide; "
        "rbgc refuses instead.",
        fix="Shorten the group or the role name.",
        example=(
            "metadata: {name: llama-3-70b-instruct-disaggregated}   # 37 characters\n"
            "spec:\n"
            "  roles: [{name: prefill-workers, ...}]   # 37 + 1 + 15 = 53, over 52"
        ),
    ),
    CodeDoc(
        "RBG113",
        "duplicate-object",
        "Two inputs produce the same Kubernetes object.",
        "Objects are identified by apiVersion group, kind, namespace and name; a second one "
        "would silently replace the first when applied.",
        example=(
            "rbgc build apps/   # apps/a.yaml and apps/b.yaml both define RoleBasedGroup "
            "llm/sglang-pd"
        ),
        fix=(
            "Keep one definition, or rename or re-namespace one of the groups; for independent "
            "apps that reuse names, `rbgc validate --separately` compiles each file on its own."
        ),
    ),
    CodeDoc(
        "RBG114",
        "rollout-never-progresses",
        "`maxUnavailable` and `maxSurge` are both zero.",
        "A rolling update that may neither take a pod down nor add one can never progress; "
        "Kubernetes and upstream RBG both reject it.",
        "rollingUpdate: {maxUnavailable: 0, maxSurge: 0}",
        "rollingUpdate: {maxUnavailable: 1, maxSurge: 0}",
    ),
    CodeDoc(
        "RBG120",
        "unsupported-feature",
        "The input uses something rbgc does not compile (an unknown API version, InstanceSet "
        "`components`, customComponentsPattern off the default workload, RBG objects inside "
        "a `List`).",
        "rbgc refuses rather than emitting objects that silently lack what you asked for.",
        example=(
            "apiVersion: workloads.x-k8s.io/v1alpha3   # an API version rbgc does not know\n"
            "kind: RoleBasedGroup"
        ),
        fix=(
            "Write the object as `workloads.x-k8s.io/v1alpha1` or `v1alpha2`, put a "
            "RoleBasedGroup in a document of its own rather than a `List`, or leave what rbgc does "
            "not compile to a cluster that runs the RBG operator."
        ),
    ),
    CodeDoc(
        "RBG201",
        "unknown-dependency",
        "A dependency names a role that is not in the group.",
        "The role would wait forever for a role that never starts (upstream reports "
        "`role [r] with dependency role [d] not found in rbg`).",
        "dependencies: [prefil]",
        "dependencies: [prefill]",
    ),
    CodeDoc(
        "RBG202",
        "self-dependency",
        "A role depends on itself.",
        "A role cannot wait for its own readiness before starting.",
        example=("- name: router\n  dependencies: [router]"),
        fix="Remove the entry: list only the roles it must wait for.",
    ),
    CodeDoc(
        "RBG203",
        "dependency-cycle",
        "Roles depend on each other in a cycle.",
        "No start order exists for a cycle: every role in it waits for another. The message "
        "lists the whole cycle and a note points at each dependency entry.",
        "router: [prefill]; prefill: [router]",
        "Remove one edge of the cycle.",
    ),
    CodeDoc(
        "RBG501",
        "reserved-env-overridden",
        "A container sets an environment variable that rbgc injects.",
        "`GROUP_NAME`, `ROLE_NAME` and `ROLE_INDEX` are set by the group, as upstream RBG does; "
        "your value would be replaced, so rbgc says so.",
        severity=Severity.WARNING,
        example=("env:\n  - {name: ROLE_NAME, value: prefill-1}   # rbgc sets ROLE_NAME"),
        fix="Rename your variable, or remove it and read the injected one (`$(ROLE_NAME)`).",
    ),
    CodeDoc(
        "RBG502",
        "reserved-label-overridden",
        "A pod template sets a label that identifies the group or role.",
        "The `rolebasedgroup.workloads.x-k8s.io/*` labels select the role's pods; your value is "
        "replaced by the group's, as upstream RBG does.",
        severity=Severity.WARNING,
        example=(
            "template:\n"
            "  metadata:\n"
            "    labels:\n"
            "      rolebasedgroup.workloads.x-k8s.io/role: worker"
        ),
        fix="Remove the label; select your pods by a label key of your own.",
    ),
    CodeDoc(
        "RBG503",
        "unresolvable-instance-address",
        "An address a role will use resolves nowhere: a hand-written `{pod}.{service}` or "
        "`{service}` among the group's names, or the config.yaml addresses of a Deployment "
        "role it depends on.",
        "Hosts in a role's container command, args and env values that fall among a group's "
        "names (`{R}-...`, `s-{R}-...`) are checked against the output: the pods its "
        "StatefulSets and LeaderWorkerSets run, under the Service that is each pod's "
        "subdomain, and every Service. Upstream's own pd-disagg-leader-worker.yaml writes "
        "`{R}-prefill-0.s-{R}-prefill`, which is an instance, not a pod, under the operator and "
        "a pod under another Service in a native LeaderWorkerSet. And config.yaml lists "
        "`{group}-{role}-{i}.{group}-{role}` for every role, as upstream does; for a Deployment "
        "that names no pod (Deployment pods have random names). A role that depends on it "
        "starts after it, so it means to reach it, and would find nothing at those addresses.",
        "roles:\n  - name: router\n    workload: {kind: Deployment}\n  - name: gateway\n"
        "    dependencies: [router]",
        "Give the Deployment role a Service of your own and reach it by that name, or run it "
        "as a StatefulSet (the default workload) if every pod must be addressed.",
        severity=Severity.WARNING,
    ),
    CodeDoc(
        "RBG504",
        "replaced-by-generated-object",
        "An input object has the kind and name of an object rbgc generates; the generated one "
        "is emitted.",
        "The operator server-side-applies its own objects with force, so a Service (or "
        "ConfigMap) the user wrote under the generated name is overwritten in the cluster: "
        "upstream's own custom-components-ordered-discovery.yaml ships a Service "
        "`s-pd-server-prefill`, the name of the role's headless Service. rbgc emits one "
        "object, the generated one, so the output applies as the operator would leave it.",
        "kind: Service\nmetadata: {name: s-pd-server-prefill}   # the role's Service",
        "Remove the object (the generated one does its job), or give it another name if it "
        "must exist beside it.",
        severity=Severity.WARNING,
    ),
    CodeDoc(
        "RBG511",
        "unknown-runtime-container",
        "An `engineRuntimes[].containers[]` override names no container of its profile.",
        "The operator appends an override's env and args to the profile container of the same "
        "name and skips any other name without a word (pkg/discovery/sidecar_builder.go), so "
        "a misspelt name loses the env and args. rbgc does the same, and says so.",
        "engineRuntimes:\n  - profileName: patio\n    containers: [{name: sidcar, args: [--x]}]",
        "Use the name of one of the profile's `containers`.",
        severity=Severity.WARNING,
    ),
    CodeDoc(
        "RBG601",
        "output-schema-violation",
        "A compiled object does not validate against the Kubernetes schema.",
        "It would be rejected by the API server. Core objects are checked whole; of a custom "
        "resource, the pod templates it embeds (a LeaderWorkerSet's leader and worker "
        "templates). The location points at the input that the field came from when rbgc can "
        "trace it, else at the role.",
        example=(
            "containers:\n"
            "  - name: engine\n"
            "    image: engine:v1\n"
            "    imagePulPolicy: Always   # no such field"
        ),
        fix=(
            "Fix the field at the location shown (the API server would refuse the object); "
            "`--kubernetes-version` names the cluster's version."
        ),
    ),
    CodeDoc(
        "RBG603",
        "container-without-image",
        "A container or init container of a compiled object has no `image`.",
        "The Kubernetes schema makes `image` optional, but the API server's validation "
        "requires it of every container of a pod or pod template (`validateContainerCommon` "
        "in pkg/apis/core/validation): every `kubectl apply` and Argo CD sync of the object "
        "fails. rbgc refuses it in every build, in the objects it generates and the ones it "
        "passes through, at the container's line.",
        "containers:\n  - name: server        # no image",
        "containers:\n  - name: server\n    image: lmsysorg/sglang:v0.5.4",
    ),
    CodeDoc(
        "RBG604",
        "pod-value-refused",
        "A pod of a compiled object has a value the API server's validation refuses.",
        "The Kubernetes schema leaves these values free; the API server's validation does "
        "not, so every `kubectl apply` and Argo CD sync of the object fails: a restart policy "
        "the pod's controller does not run (a StatefulSet, Deployment or LeaderWorkerSet only "
        "Always, a Job only OnFailure or Never), an image pull policy or port protocol outside "
        "its enum (case counts), a port outside 1-65535, a resource amount that is not a "
        "quantity or is negative, a request above its limit. rbgc refuses each in every build, "
        "at the line that wrote it.",
        "containers:\n"
        "  - name: server\n"
        "    image: lmsysorg/sglang:v0.5.4\n"
        "    imagePullPolicy: always      # Always\n"
        "    resources: {limits: {cpu: two}}",
        "containers:\n"
        "  - name: server\n"
        "    image: lmsysorg/sglang:v0.5.4\n"
        "    imagePullPolicy: Always\n"
        '    resources: {limits: {cpu: "2"}}',
    ),
    CodeDoc(
        "RBG602",
        "unsupported-kubernetes-version",
        "The requested Kubernetes version has no bundled schemas.",
        "rbgc validates against the schemas `kubernetes-validate` ships.",
        fix="Pass --kubernetes-version with a version such as 1.33.",
        example="rbgc build --strict --kubernetes-version 1.99 examples/",
    ),
    CodeDoc(
        "RBG701",
        "overlay-cycle",
        "An overlay's base leads back to the overlay itself.",
        "Overlays stack (prod on staging on base); a chain that returns to an overlay already "
        "on it has no bottom, so nothing could be built. The message lists the whole chain.",
        "# overlays/dev/overlay.yaml\nbase: ../prod\n# overlays/prod/overlay.yaml\nbase: ../dev",
        "base: ../base",
    ),
    CodeDoc(
        "RBG702",
        "missing-base",
        "An overlay's base does not exist or holds no Kubernetes objects.",
        "Building an overlay without its base would emit nothing for it, and an empty build "
        "lets a GitOps tool with pruning delete what it manages.",
        "base: ../bsae",
        "base: ../base",
    ),
    CodeDoc(
        "RBG703",
        "path-escapes-root",
        "An overlay's base is an absolute path or lies outside the repository root.",
        "A build must depend only on the repository it is built from: Argo CD and Flux see "
        "nothing else, and a base elsewhere on one machine would build differently on another. "
        "Symbolic links are followed before the check.",
        "base: ../../../elsewhere/base",
        "Copy the base into the repository, or pass --root to name a wider root.",
    ),
    CodeDoc(
        "RBG704",
        "invalid-overlay",
        "An Overlay document does not match its schema.",
        "Overlay fields are checked against schemas/overlay.v1alpha1.schema.json so a typo "
        "(`nameSufix`) is an error rather than a silently ignored change.",
        "nameSufix: -prod",
        "nameSuffix: -prod",
    ),
    CodeDoc(
        "RBG705",
        "patch-matches-nothing",
        "A patch targets no object of the base, or deletes a named item the base lacks.",
        "A patch that changes nothing is almost always a misspelt name; rbgc refuses it rather "
        "than building the base unchanged.",
        "- name: decoder\n  $patch: delete",
        "- name: decode\n  $patch: delete",
    ),
    CodeDoc(
        "RBG706",
        "invalid-patch-directive",
        "A patch uses a `$patch` value rbgc does not know.",
        "Only `delete`, `replace` and `merge` have a meaning; any other value would be guessed at.",
        "$patch: remove",
        "$patch: delete",
    ),
    CodeDoc(
        "RBG707",
        "not-a-resource-list",
        "`rbgc krm` was given something other than a KRM ResourceList.",
        "A KRM function reads one `ResourceList` (config.kubernetes.io/v1 or v1beta1) from "
        "stdin; anything else means it was wired up wrongly, and guessing would hand kpt or "
        "kustomize a broken stream.",
        fix="Run plain manifests through `rbgc build -` instead.",
        example=(
            "rbgc krm < examples/pd-disaggregated.yaml   # plain manifests, not a ResourceList"
        ),
    ),
    CodeDoc(
        "RBG720",
        "cannot-convert",
        "`rbgc convert`: upstream would refuse the document, so it has no converted form.",
        "rbgc convert does what upstream's conversion webhook does, and the API server checks "
        "a v1alpha1 object against the current v1alpha1 schema before converting it: "
        "`template` together with `templateRef`, a role with neither, `templateRef` on a "
        "LeaderWorkerSet role and `RecreateRBGOnPodRestart` (removed upstream) on a "
        "leaderWorkerSet or components role are refused. Going back, a role without a pattern "
        "or a stashed v1alpha1 field that is not valid JSON cannot be converted either.",
        "leaderWorkerSet: {size: 2}\nrestartPolicy: RecreateRBGOnPodRestart",
        "leaderWorkerSet: {size: 2}\nrestartPolicy: RecreateRoleInstanceOnPodRestart",
    ),
    CodeDoc(
        "RBG721",
        "lossy-conversion",
        "`rbgc convert --to v1alpha1`: the v1alpha2 document holds what v1alpha1 cannot.",
        "Upstream's webhook silently drops sharedServiceSelection, restart backoff delays, "
        "podManagementPolicy (other than Parallel), scaling-adapter labels, component labels "
        "and annotations, a second pattern, RoleBasedGroupSet groupTemplate labels and "
        "annotations, and gang or exclusive-topology annotations v1alpha1 cannot express; "
        "and v1alpha1 holds components only on a (deprecated) InstanceSet workload. "
        "rbgc refuses instead, so converting back never loses a setting.",
        "leaderWorkerPattern:\n  sharedServiceSelection: LeaderOnly",
        "Remove the field (accepting v1alpha1's behaviour), or stay on v1alpha2.",
    ),
    CodeDoc(
        "RBG722",
        "conversion-drops",
        "`rbgc convert`: upstream's conversion drops or changes something you wrote.",
        "The converted file is what upstream's webhook would store; where that loses a "
        "setting or changes what runs (a standalone role's restartPolicy, the v1alpha1 "
        "disable-exclusive-topology opt-out, RoleBasedGroupSet gang scheduling and exclusive "
        "topology, which the current operator no longer passes to the groups, coordination, "
        "whose migrated CoordinatedPolicy the API server refuses, `$(GROUP_NAME)`-style "
        "references to variables the current operator renamed to RBG_*), the warning says "
        "what and how to get it back. Kinds that exist in one version only are left as they "
        "are.",
        severity=Severity.WARNING,
        example=(
            "env:\n"
            "  - name: ROUTER\n"
            "    value: $(GROUP_NAME)-router   # v1alpha2's operator injects RBG_GROUP_NAME"
        ),
        fix=(
            "Do what the `help:` line says in the converted file (e.g. write "
            "`$(RBG_GROUP_NAME)`); `--ignore RBG722` once you accept the change."
        ),
    ),
    CodeDoc(
        "RBG801",
        "git-revision-unreadable",
        "`rbgc diff --git REF` cannot read the revision.",
        "The OLD side comes from `git archive REF`: git must be installed, the command must run "
        "inside a work tree, REF must name a commit and the paths must lie inside the tree.",
        "rbgc diff --git no-such-branch examples/",
        "rbgc diff --git origin/main examples/",
    ),
    CodeDoc(
        "RBG802",
        "rollout-never-finishes",
        "Applying NEW starts a rollout that can never complete.",
        "A role that may take no pod down and gets no surge pod (upstream surges only when "
        "replicas exceed maxSurge: 1 replica with maxSurge 1 and maxUnavailable 0 never "
        "moves), or coordination rules that hold each other's roles, leave the update stuck "
        "half-way in the cluster. rbgc finds it before anything is applied.",
        "replicas: 1\nrolloutStrategy:\n  rollingUpdate: {maxUnavailable: 0, maxSurge: 1}",
        "replicas: 1\nrolloutStrategy:\n  rollingUpdate: {maxUnavailable: 1, maxSurge: 0}",
    ),
    CodeDoc(
        "RBG803",
        "plan-invariant-violated",
        "A computed plan breaks one of its invariants.",
        "Every plan is checked: capacity never below the floor the strategies promise, "
        "progress skew within maxSkew plus one replica, termination, final state equal to NEW. "
        "A violation is a bug in rbgc's planner, reported instead of a wrong plan.",
        fix="Please report it with both inputs.",
        example="rbgc plan old/ new/   # reports the invariant and the step that breaks it",
    ),
    CodeDoc(
        "RBG804",
        "in-place-only-refused",
        "`plan`/`sync`: an InPlaceOnly role's pods would have to be recreated for this change.",
        "A running pod may change only its containers' images and its labels and annotations "
        "(Kubernetes' pod update validation; upstream updates images and template metadata in "
        "place, nothing else). `rollingUpdate.type: InPlaceOnly` says the role's pods are never "
        "recreated, so rbgc refuses a change that would need new pods instead of recreating "
        "them (upstream's operator falls back to recreating, rbg-v1alpha2-semantics.md §12 "
        "#10). Checked only once the role runs in place: the first sync after a plain build "
        "recreates the pods once, as the build's template gains the readiness gate.",
        "rolloutStrategy:\n  rollingUpdate: {type: InPlaceOnly}\n# and the template's env or "
        "resources changed",
        "Change only images in this revision, and the rest in another with type "
        "InPlaceIfPossible (recreates what it must) or RecreatePod.",
    ),
    CodeDoc(
        "RBG805",
        "warmup-failed",
        "`sync`: a warm-up failed: a node could not pull its images, or it ran out of time.",
        "A `--warmup` warm-up pulls a role's new images on its pods' nodes before any of them "
        "is replaced or updated: a node that cannot pull them (a wrong image, a registry "
        "secret missing, a full disk) would leave the pod failing, so the sync stops with no "
        "pod of the role touched. A RoleBasedGroupWarmup of the inputs fails as upstream's "
        "does: more failed nodes than `maxFailedNodes`, or `globalTimeoutSeconds` passed.",
        fix="Look at the warm-up Jobs' pods (`kubectl describe pod -l "
        "workloads.x-k8s.io/warmup-name`); fix the image or its pull secret, then sync again.",
        example="warm-up llm/llm-pd decode: pull lmsysorg/sglang:v0.5.5 on the nodes of "
        "llm/llm-pd's decode pods failed: Job(s) llm-pd-decode-warmup-gpu-a1-0 failed",
    ),
    CodeDoc(
        "RBG910",
        "cluster-error",
        "`rbgc sync`: the cluster refused a request or could not be reached.",
        "The API server's answer (status, reason, message) is shown as it came: a forbidden "
        "apply (RBAC), an object Kubernetes rejects, a kubeconfig that names no cluster, a "
        "server that does not answer. Waves applied before the failure stay applied (exit 5).",
        fix="Fix what the message names and run `rbgc sync` again: it carries on from the "
        "cluster as it finds it.",
        example=(
            "apply StatefulSet llm/sglang-pd-prefill: 403 Forbidden (RBAC lets the account "
            "not patch statefulsets in llm)"
        ),
    ),
    CodeDoc(
        "RBG911",
        "kind-not-served",
        "`rbgc sync`: the cluster does not serve a kind the bundle uses.",
        "A custom resource (PodGroup, LeaderWorkerSet) needs its CRD and controller in the "
        "cluster. rbgc checks every kind a group uses before it applies anything (exit 5).",
        fix="Install the CRD (scheduler-plugins for PodGroup, the LWS controller for "
        "LeaderWorkerSet), or build with `--lws statefulsets` for plain StatefulSets.",
        example=(
            "the cluster serves no leaderworkerset.x-k8s.io/v1 LeaderWorkerSet (the LWS CRD "
            "is not installed)"
        ),
    ),
    CodeDoc(
        "RBG912",
        "sync-timeout",
        "`rbgc sync`: a step did not reach its state before `--timeout`.",
        "Each step waits until its workloads have the planned replicas, all ready and updated "
        "(upstream's readiness rule between waves). A pod that never gets ready (a crash-loop, "
        "an image that cannot be pulled, a readiness probe that fails, a gang that cannot be "
        "scheduled) stops the sync at that step; later waves are not applied (exit 4).",
        fix="Look at the named role's pods (`kubectl describe`), fix the cause, run again; or "
        "raise `--timeout` when the pods are only slow to start.",
        example=(
            "a step of role prefill still waits for sglang-pd-prefill-1 (CrashLoopBackOff) "
            "when --timeout runs out"
        ),
    ),
    CodeDoc(
        "RBG913",
        "field-conflict",
        "`rbgc sync`: another field manager owns a field rbgc would change.",
        "rbgc applies by server-side apply without force: a field another tool or a person "
        "set since (kubectl edit, an emergency patch, an operator) is a conflict, reported "
        "with the field and the manager that owns it, and not taken over (exit 5). A role "
        "whose workload an HPA scales is applied without `replicas`, so the HPA never "
        "conflicts.",
        fix="Put the change into the input, or run with `--force-conflicts` to take the "
        "fields over.",
        example=(
            "StatefulSet llm/sglang-pd-decode: spec.replicas is owned by kubectl-edit with "
            "another value"
        ),
    ),
    CodeDoc(
        "RBG914",
        "cluster-timeout",
        "`rbgc sync`: the API server did not answer before `--timeout`.",
        "Every request is bounded by what is left of `--timeout`; transient failures (no "
        "answer, connection reset, 429, 5xx) are retried with exponential backoff and jitter, "
        "honouring Retry-After, until the time runs out. A server that never answers ends the "
        "sync within `--timeout` (exit 4).",
        fix="Check that the API server is reachable and healthy, or raise `--timeout`.",
        example=(
            "rbgc sync --server https://10.0.0.1:6443 --timeout 60 ... while the API server "
            "never answers"
        ),
    ),
    CodeDoc(
        "RBG915",
        "sync-locked",
        "`rbgc sync`: another sync holds a group's lock.",
        "Each group has a coordination.k8s.io Lease `rbgc-sync-<group>`; a sync takes the "
        "Leases of its groups before it reads the cluster, renews them while it runs and "
        "releases them at the end. A Lease held by another sync and not expired stops this one "
        "(or, with `--wait-lock`, makes it wait); a sync whose Lease was taken over (it was not "
        "renewed in time) stops before its next write and does not report success (exit 5).",
        fix="Let the other sync finish, or pass `--wait-lock`; a lock whose sync died expires "
        "after its leaseDurationSeconds (60 s).",
        example=(
            "Lease llm/rbgc-sync-sglang-pd is held by another sync "
            "(rbgc@ci-runner/4242/...) until it expires"
        ),
    ),
    CodeDoc(
        "RBG916",
        "restart-recreated",
        "`rbgc sync --watch`: a pod restarted and its restart policy recreated what it belongs to.",
        "A role whose restart policy the compiled objects cannot perform (`RecreateRBGOnPodRestart`"
        ", or a LeaderWorkerSet built as StatefulSets) is carried out by the watcher: when one of "
        "its pods restarts or fails, it deletes the whole group's workloads (the sync applies "
        "them again, wave by wave) or the pods of that leader/worker group. Repeated recreations "
        "back off exponentially (30 s doubling, at most 600 s), as upstream's restartPolicyConfig "
        "does; the warning says which recreation in a row this is.",
        fix="A warning about something done, not an error: look at why the pod restarted "
        "(`kubectl logs --previous`); set `restartPolicy: None` to let Kubernetes restart the "
        "single pod instead.",
        severity=Severity.WARNING,
        example=(
            "a pod of leader/worker group sglang-pd-decode-0 restarted: the group is "
            "recreated (the 2nd time in a row, so after 30 s)"
        ),
    ),
    CodeDoc(
        "RBG917",
        "watch-leadership-lost",
        "`rbgc sync --watch`: another watcher took over the leader Lease.",
        "Watchers elect one leader through the Lease `rbgc-watch` (renewed every 20 s, held 60 s). "
        "A leader that could not renew in time (a paused process, a partitioned node) finds the "
        "Lease taken over; it stops acting before its next write and stands by, so two watchers "
        "never recreate at once.",
        fix="Nothing to do if another replica leads; if this keeps happening, look at why the "
        "watcher cannot reach the API server every 20 s.",
        severity=Severity.WARNING,
        example="the Lease rbgc-watch is now held by another watcher; this one stands by",
    ),
    CodeDoc(
        "RBG918",
        "sync-stopped-by-signal",
        "`rbgc sync`: SIGTERM or SIGINT stopped the sync between two writes.",
        "A Pod being stopped, a cancelled CI job (SIGTERM) or ^C (SIGINT) asks the sync to "
        "stop: it finishes no further write, releases every group's Lease (so the next sync is "
        "not refused), says which steps were applied, and exits 143 (SIGTERM) or 130 (SIGINT), "
        "as shells report those signals. A second signal of the same kind ends it at once.",
        example="kill -TERM <pid of rbgc sync>   # or ^C while it waits for pods",
        fix="Run the same `rbgc sync` again: it carries on where this one stopped (an upgrade "
        "resumes at the planner step it reached).",
    ),
    CodeDoc(
        "RBG901",
        "internal-error",
        "rbgc failed on input it should have handled.",
        "This is a bug in rbgc, not in your manifests.",
        fix="Please report it with the input that triggers it.",
        example="rbgc: error[RBG901]: internal error: KeyError: 'spec'",
    ),
)

CODES.update(
    _doc(
        CodeDoc(
            "RBG121",
            "unsupported-workload",
            "A role's `workload` is not a kind rbgc lowers.",
            "Upstream accepts exactly apps/v1 StatefulSet, apps/v1 Deployment and "
            "leaderworkerset.x-k8s.io/v1 LeaderWorkerSet, and fails at reconcile time "
            "otherwise.",
            "workload: {apiVersion: apps/v1, kind: DaemonSet}",
            "workload: {kind: StatefulSet}",
        ),
        CodeDoc(
            "RBG122",
            "ignored-field",
            "A field has no effect where it is written.",
            "rbgc never drops what you wrote silently: a field that the role's kind ignores "
            "is reported.",
            severity=Severity.WARNING,
            example=(
                "- name: worker   # a StatefulSet role\n"
                "  leaderWorkerSet: {size: 2}   # only a LeaderWorkerSet role reads it"
            ),
            fix=(
                "Remove the field, or move it where it takes effect (the `help:` line says "
                "where); `--ignore RBG122` if you keep it on purpose."
            ),
        ),
        CodeDoc(
            "RBG123",
            "stale-key",
            "A key the operator release being reproduced does not read.",
            "Upstream renamed its keys between v0.4.0 (`rolebasedgroup.workloads.x-k8s.io/*`) "
            "and the v1alpha2 operator (`rbg.workloads.x-k8s.io/*`), and binds a "
            "CoordinatedPolicy only to the group of the same name. A v1alpha1 key on a v1alpha2 "
            "group, a Service selecting a label the compiled pods do not carry, or a policy "
            "named after no group has no effect; rbgc compiles what the operator would and "
            "names the key that works.",
            "annotations: {rolebasedgroup.workloads.x-k8s.io/exclusive-topology: zone}",
            "annotations: {rbg.workloads.x-k8s.io/group-exclusive-topology: zone}",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG124",
            "no-group-scale-target",
            "A scaler targets a role no compiled object scales by whole instances: a "
            "leader/worker role built as StatefulSets (`--lws statefulsets`), or a "
            "customComponentsPattern role.",
            "The operator scales a role by whole instances (its adapter sets the role's "
            "replicas). Under `--lws statefulsets` a leader/worker role is a leader StatefulSet "
            "plus one worker StatefulSet per group, made at build time: scaling the leader "
            "StatefulSet adds leaders without workers, and no object scales whole groups; "
            "`--lws native` emits a LeaderWorkerSet, whose replicas are groups and which the "
            "HPA is retargeted to. A customComponentsPattern role is one StatefulSet per "
            "instance and component, also made at build time: only its `replicas` in the "
            "source scales it. rbgc leaves the HorizontalPodAutoscaler as written and says so.",
            "rbgc build --lws statefulsets pd.yaml   # decode: leaderWorkerPattern + HPA",
            "rbgc build --lws native pd.yaml",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG130",
            "template-conflict",
            "`template`, `templateRef` and `templatePatch` are combined in a way upstream refuses.",
            "A role's pod template comes from `template`, or from a role template plus a patch "
            "(`templateRef` + `templatePatch`, with `templatePatch: {}` for none); "
            "LeaderWorkerSet roles cannot use templateRef.",
            example=(
                "- name: prefill\n"
                "  template: {spec: {containers: [...]}}\n"
                "  templateRef: {name: base}   # template, or templateRef + templatePatch"
            ),
            fix=(
                "Use `template` alone, or `templateRef` with `templatePatch` (`templatePatch: "
                "{}` for none)."
            ),
        ),
        CodeDoc(
            "RBG131",
            "unknown-role-template",
            "`templateRef` names a role template that does not exist.",
            "The role would have no pod template.",
            "templateRef: {name: sglang-bse}",
            "templateRef: {name: sglang-base}",
        ),
        CodeDoc(
            "RBG132",
            "invalid-patch",
            "A strategic merge patch cannot be applied.",
            "`patchLeaderTemplate`, `patchWorkerTemplate` and `templatePatch` follow "
            "Kubernetes' strategic merge rules: containers, volumes and env merge by `name`, "
            "ports by `containerPort`, volume mounts by `mountPath`; `$patch` may be "
            "`replace`, `delete` or `merge`.",
            example=(
                "templatePatch:\n"
                "  spec:\n"
                "    containers:\n"
                "      - image: engine:v2   # no `name`: which container does it merge into?"
            ),
            fix=(
                "Give every list item its merge key (`name` for containers, volumes and env, "
                "`containerPort` for ports, `mountPath` for volume mounts) and use `$patch` only "
                "as `replace`, `delete` or `merge`."
            ),
        ),
        CodeDoc(
            "RBG140",
            "statefulset-max-unavailable-ignored",
            "StatefulSet `maxUnavailable` is ignored by the target Kubernetes version.",
            "The MaxUnavailableStatefulSet feature is alpha (off) up to 1.34 and on by "
            "default from 1.35; older clusters replace one pod at a time whatever the field "
            "says.",
            severity=Severity.WARNING,
            example=(
                "- name: prefill   # a StatefulSet role; --kubernetes-version 1.33\n"
                "  rolloutStrategy:\n"
                "    rollingUpdate: {maxUnavailable: 2}"
            ),
            fix=(
                "Build for the cluster's version (`--kubernetes-version 1.35`, where the "
                "feature is on), turn the MaxUnavailableStatefulSet feature gate on, or drop "
                "`maxUnavailable`; `rbgc plan` shows the one-pod-at-a-time rollout the cluster "
                "will do."
            ),
        ),
        CodeDoc(
            "RBG141",
            "needs-controller",
            "The manifest relies on behaviour only a running controller provides.",
            "Surge stepping, whole-group restarts and coordinated rollouts happen over time; "
            "rbgc compiles their steady state; plain Kubernetes (and Argo CD or Flux applying "
            "the output) will not do the rest, so rbgc says so instead of pretending. "
            "`rbgc plan` shows what a rollout of the compiled objects will really do.",
            severity=Severity.WARNING,
            example=(
                "coordination:\n"
                "  - name: pd\n"
                "    roles: [prefill, decode]\n"
                "    strategy: {rollingUpdate: {maxSkew: 10%}}"
            ),
            fix=(
                "Let `rbgc sync` carry it out (it performs the plan step by step), or accept "
                "the plain workloads' own rollout, which `rbgc plan` shows; then `--ignore RBG141`."
            ),
        ),
        CodeDoc(
            "RBG142",
            "no-effect",
            "A setting that upstream also ignores for this workload kind.",
            "Reported so you do not rely on it.",
            severity=Severity.WARNING,
            example=(
                "- name: worker   # a StatefulSet role\n"
                "  restartPolicy: RecreateRoleInstanceOnPodRestart"
            ),
            fix=(
                "Remove the setting, or use it on a LeaderWorkerSet role, where it recreates "
                "the pod group."
            ),
        ),
        CodeDoc(
            "RBG143",
            "scaling-adapter-without-operator",
            "`scalingAdapter.enable` asks for an object only the operator can serve.",
            "Without the operator an HPA targets the StatefulSet or Deployment directly; "
            "GitOps must then ignore `/spec/replicas` or it will undo every scaling decision.",
            severity=Severity.WARNING,
            example=("- name: worker\n  scalingAdapter: {enable: true}"),
            fix=(
                "Point the HPA (or KEDA) at the compiled workload the message names, and keep "
                "GitOps from resetting its replicas: Argo CD `ignoreDifferences` on "
                "`/spec/replicas` with `RespectIgnoreDifferences=true`."
            ),
        ),
        CodeDoc(
            "RBG144",
            "autoscaler-retargeted",
            "An HPA targets a RoleBasedGroupScalingAdapter, which only the operator serves.",
            "Without the operator no adapter exists, so the HPA would scale nothing. rbgc "
            "points its `scaleTargetRef` at the role's compiled workload, which has a scale "
            "subresource, and says so; an adapter that names no compiled role is left as "
            "written.",
            severity=Severity.WARNING,
            example=(
                "kind: HorizontalPodAutoscaler\n"
                "spec:\n"
                "  scaleTargetRef:\n"
                "    apiVersion: workloads.x-k8s.io/v1alpha2\n"
                "    kind: RoleBasedGroupScalingAdapter\n"
                "    name: sglang-pd-decode"
            ),
            fix=(
                "Nothing, if the compiled workload is what you meant to scale; write it as the "
                "`scaleTargetRef` yourself to say so and silence the warning."
            ),
        ),
        CodeDoc(
            "RBG150",
            "unknown-coordination-role",
            "A coordination rule names a role that does not exist.",
            "The rule could never hold that role in step.",
            example=(
                "coordination:\n"
                "  - name: pd\n"
                "    roles: [prefill, decoder]   # the role is `decode`"
            ),
            fix="Name roles of the same group; the `help:` line lists them.",
        ),
        CodeDoc(
            "RBG151",
            "invalid-coordination",
            "A coordination rule cannot coordinate anything.",
            "A rule needs at least two roles and a strategy (`rollingUpdate` and/or `scaling`).",
            example=(
                "coordination:\n"
                "  - name: pd\n"
                "    roles: [prefill]   # one role: nothing to keep in step"
            ),
            fix=(
                "List at least two roles and give a `strategy` (`rollingUpdate` and/or "
                "`scaling`), or remove the rule."
            ),
        ),
        CodeDoc(
            "RBG301",
            "gang-scheduler-not-selected",
            "Gang-scheduled pods do not ask for the gang scheduler.",
            "A PodGroup only works when the pods are scheduled by the scheduler that knows it "
            "(Volcano: `schedulerName: volcano`); the default scheduler ignores PodGroups and "
            "the gang guarantee silently disappears.",
            severity=Severity.WARNING,
            example=(
                "podGroupPolicy:\n"
                "  volcanoScheduling: {queue: default}\n"
                "# and the pod templates do not set `schedulerName: volcano`"
            ),
            fix="Set `schedulerName: volcano` in the pod template of every gang-scheduled role.",
        ),
        CodeDoc(
            "RBG302",
            "gang-policy-ignored",
            "Both gang-scheduling sources are set.",
            "Upstream uses `kubeScheduling` when both it and `volcanoScheduling` are present.",
            severity=Severity.WARNING,
            example=(
                "podGroupPolicy:\n"
                "  kubeScheduling: {scheduleTimeoutSeconds: 60}\n"
                "  volcanoScheduling: {queue: default}"
            ),
            fix="Keep the one for the scheduler your cluster runs.",
        ),
        CodeDoc(
            "RBG115",
            "statefulset-max-unavailable-zero",
            "A StatefulSet role sets `maxUnavailable: 0` where the API server refuses it.",
            "From Kubernetes 1.35 StatefulSet `maxUnavailable` is honoured and must be greater "
            "than 0; upstream RBG reached zero-downtime rollouts by adding surge pods itself, "
            "which a StatefulSet cannot do.",
            "rollingUpdate: {maxUnavailable: 0, maxSurge: 1}",
            "rollingUpdate: {maxUnavailable: 1}",
        ),
        CodeDoc(
            "RBG116",
            "partition-not-below-replicas",
            "A v1alpha2 role's `partition` keeps every replica on the old revision.",
            "The v1alpha2 operator's webhook refuses a partition (percentages rounded up) that "
            "is not less than the role's replicas: such a rollout could never start. "
            "`paused: true` is the way to hold a rollout.",
            "replicas: 2\nrolloutStrategy: {rollingUpdate: {partition: 2}}",
            "replicas: 2\nrolloutStrategy: {rollingUpdate: {partition: 1}}",
        ),
        CodeDoc(
            "RBG117",
            "group-set-too-large",
            "A RoleBasedGroupSet's groups would hold more pods than a cluster can.",
            "A set becomes one group per replica, each compiled into the output. Kubernetes "
            "supports clusters of at most 150,000 pods (sig-scalability thresholds), so rbgc "
            "refuses at once, before making a single group, a set whose groups hold more (a "
            "group without pods counts as one): compiling it would run for hours and need "
            "more memory than a build has, as a role's replicas are refused by RBG520.",
            "kind: RoleBasedGroupSet\nspec:\n  replicas: 2147483647",
            "kind: RoleBasedGroupSet\nspec:\n  replicas: 4",
        ),
        CodeDoc(
            "RBG520",
            "discovery-config-too-large",
            "The group's `/etc/rbg/config.yaml` would not fit in a ConfigMap.",
            "The discovery file lists every instance of every role, and the API server refuses "
            "ConfigMaps over 1 MiB; rbgc refuses before building it.",
            example=(
                "a group of thousands of instances: every role's config.yaml lists all of them"
            ),
            fix="Split the group into smaller groups, or use fewer, larger instances.",
        ),
        CodeDoc(
            "RBG530",
            "invalid-warmup",
            "A RoleBasedGroupWarmup breaks a rule upstream's API server enforces (its CEL rules).",
            "Upstream's CRD (api/workloads/v1alpha2/rolebasedgroupwarmup_types.go) admits a "
            "warm-up only with exactly one of `targetNodes` and `targetRoleBasedGroup`, with "
            "`nodeNames` or `nodeSelector` (not both, a selector with a label), with at least one "
            "of `imagePreload` and `customizedAction` in each set of actions, and with "
            "`maxFailedNodes` only beside `backoffLimitPerNode` (a node retried for ever never "
            "fails). rbgc refuses what the API server would.",
            "spec:\n  targetNodes:\n    nodeNames: [gpu-1]\n    nodeSelector: {gpu: a100}",
            "spec:\n  targetNodes:\n    nodeSelector: {gpu: a100}\n    imagePreload:\n"
            "      images: [lmsysorg/sglang:v0.5.4]",
        ),
        CodeDoc(
            "RBG531",
            "warmup-nodes-unresolved",
            "A RoleBasedGroupWarmup's nodes cannot be known when it is compiled.",
            "rbgc compiles a warm-up into one Job per node, so it must know the nodes. "
            "`nodeNames` are known; a `nodeSelector` is matched against the node inventory "
            "given with `--nodes FILE` (the file `rbgc fit` reads); `targetRoleBasedGroup` "
            "means the nodes that run the group's pods, which only the cluster knows. `rbgc "
            "sync` resolves both against the cluster; `rbgc build` refuses rather than emit "
            "nothing for the warm-up.",
            "spec:\n  targetNodes:\n    nodeSelector: {gpu: a100}   # rbgc build, no --nodes",
            "rbgc build --nodes nodes.json ...   (kubectl get nodes -o json > nodes.json), "
            "or rbgc sync, or nodeNames",
        ),
        CodeDoc(
            "RBG532",
            "warmup-selects-no-node",
            "A warm-up's nodeSelector matches no node of the `--nodes` inventory.",
            "Nothing is warmed up: upstream's controller completes such a warm-up at once "
            "(`NoNodesMatched`), and rbgc emits no Job for it.",
            severity=Severity.WARNING,
            example="spec:\n  targetNodes:\n    nodeSelector: {gpu-type: a100}   # the nodes "
            "are H100s",
            fix="Check the selector against `kubectl get nodes --show-labels`.",
        ),
        CodeDoc(
            "RBG533",
            "warmup-node-not-in-inventory",
            "A warm-up names a node the `--nodes` inventory does not hold.",
            "Its Job's pod is pinned to a node that does not exist (or was not listed): it stays "
            "Pending until `globalTimeoutSeconds` ends the Job, or for ever without one.",
            severity=Severity.WARNING,
            example="spec:\n  targetNodes:\n    nodeNames: [gpu-a1-0, gpu-z9-0]   # no node "
            "gpu-z9-0 in nodes.json",
            fix="Check the node names (`kubectl get nodes`), or refresh the inventory.",
        ),
        CodeDoc(
            "RBG304",
            "gang-dependency-deadlock",
            "Gang-scheduled roles also wait for each other through dependencies.",
            "A PodGroup admits its pods only when `minMember` of them (every pod of the group) "
            "can be placed at once, while a dependent role is created only after its "
            "dependencies are ready: the first wave waits for pods that never come. Upstream "
            "behaves the same way.",
            severity=Severity.WARNING,
            example=(
                "podGroupPolicy: {kubeScheduling: {}}\n"
                "roles:\n"
                "  - name: router\n"
                "    dependencies: [prefill]   # waits for prefill, whose gang waits for the "
                "router's pods"
            ),
            fix=(
                "Drop the dependencies of gang-scheduled roles (a gang starts together anyway), "
                "or gang-schedule only roles that start together."
            ),
        ),
        CodeDoc(
            "RBG303",
            "invalid-exclusive-topology",
            "The exclusive-topology annotation is empty.",
            "Pod affinity needs a topology key such as `kubernetes.io/hostname`.",
            example=('annotations:\n  rolebasedgroup.workloads.x-k8s.io/exclusive-topology: ""'),
            fix=(
                "Set it to a node label key such as `kubernetes.io/hostname`, or remove the "
                "annotation."
            ),
        ),
        CodeDoc(
            "RBG305",
            "gang-scheduler-mismatch",
            "Pods ask for Volcano, but their gang is a scheduler-plugins PodGroup.",
            "Volcano reads only its own PodGroups (`scheduling.volcano.sh/v1beta1`, joined by "
            "the pod annotation `scheduling.k8s.io/group-name`); pods with `schedulerName: "
            "volcano` in a scheduler-plugins PodGroup start one by one, with no gang. The "
            "operator picks the v1alpha2 PodGroup flavour by its `--scheduler-name` flag "
            "(scheduler-plugins by default), which `rbgc build --scheduler volcano` stands for.",
            'metadata:\n  annotations: {rbg.workloads.x-k8s.io/group-gang-scheduling: "true"}\n'
            "spec:\n  roles:\n  - name: prefill\n    standalonePattern:\n      template:\n"
            "        spec: {schedulerName: volcano, ...}",
            "rbgc build --scheduler volcano group.yaml",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG306",
            "gang-subgroups-unsupported",
            "KEP-430 `gang.minReplicas` cannot be compiled for this scheduler or role.",
            "Per-role minimums need a scheduler with subgroups: Volcano's PodGroup "
            "`subGroupPolicy`, one subgroup per instance grouped by a label every pod of the "
            "instance carries. scheduler-plugins gangs only the whole group, and KEP-430's "
            "webhook refuses the policy rather than weaken the gang; a role whose instances' "
            "pods share no such label (a leader StatefulSet under `--lws statefulsets`) cannot "
            "be split into instances either.",
            "strategy:\n  scheduling:\n    gang: {minReplicas: {prefill: 2}}   # rbgc build "
            "(scheduler-plugins)",
            "rbgc build --scheduler volcano ...   # or gang: {} to gang every pod",
        ),
        CodeDoc(
            "RBG307",
            "incompatible-placement-groups",
            "A topology pack and the gang cover roles that cannot be grouped together.",
            "KEP-473 refuses a pack whose roles partly overlap the gang's "
            "(IncompatiblePlacementGroups); and Volcano puts each pod in the first subgroup it "
            "matches (job_info.go `getOrCreateSubJob`), so a pack over some roles cannot also "
            "be a subgroup of pods already split into minReplicas' per-instance subgroups.",
            "gang: {minReplicas: {prefill: 1, decode: 1}}\n...\nroles: [decode, router]\n"
            "topologyConstraint: {pack: {required: zone}}",
            "roles: [prefill, decode]   # the gang's roles, or every role of the group",
        ),
        CodeDoc(
            "RBG308",
            "gang-unknown-role",
            "KEP-430 `gang.minReplicas` names a role the group does not have.",
            "Only roles listed in `minReplicas` join the gang; a misspelt role would silently "
            "leave the intended one out of it.",
            "gang: {minReplicas: {prefil: 2}}",
            "gang: {minReplicas: {prefill: 2}}",
        ),
        CodeDoc(
            "RBG309",
            "gang-never-satisfied",
            "KEP-430 `gang.minReplicas` asks for more instances than the role has.",
            "KEP-430 does not validate it: the gang can never be satisfied and every pod of the "
            "PodGroup stays Pending.",
            "replicas: 1\n...\ngang: {minReplicas: {prefill: 2}}",
            "gang: {minReplicas: {prefill: 1}}",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG310",
            "invalid-placement",
            "A Topology or Placement document, or one of its rules, is malformed.",
            "Both are checked against schemas/placement.v1alpha1.schema.json, and a rule states "
            "exactly one of pack, spread, separate; a pack needs `required` or `preferred`, "
            "and falling back from one to the other needs both in the tier order.",
            "- roles: [prefill]\n  pack: {}",
            "- roles: [prefill]\n  pack: {required: zone, preferred: nvlink}",
        ),
        CodeDoc(
            "RBG311",
            "placement-without-group",
            "A Placement binds to no RoleBasedGroup in the inputs.",
            "A Placement applies to the group of the same name and namespace; one that binds to "
            "nothing would silently place nothing.",
            example=(
                "kind: Placement\n"
                "metadata: {name: sglang-pd, namespace: llm}   # no RoleBasedGroup llm/sglang-pd "
                "among the inputs"
            ),
            fix=(
                "Name the Placement like its group (or RoleBasedGroupSet), in the same "
                "namespace, and pass both to the same command."
            ),
        ),
        CodeDoc(
            "RBG312",
            "unknown-placement-name",
            "A Placement names a role, tier or Topology that does not exist.",
            "A level is a tier name of the active Topology, else a node label key (it then "
            "holds a `/`); a word that is neither is almost always a misspelt tier.",
            "separate: {level: hots}",
            "separate: {level: host}",
        ),
        CodeDoc(
            "RBG313",
            "duplicate-tier",
            "Two tiers of a Topology share a name or a node label.",
            "Each tier is one interconnect level; a repeated name makes levels ambiguous and a "
            "repeated node label makes the tier order meaningless.",
            example=(
                "tiers:\n"
                "  - {name: host, nodeLabel: kubernetes.io/hostname}\n"
                "  - {name: rack, nodeLabel: kubernetes.io/hostname}   # the same node label twice"
            ),
            fix="Give each tier its own name and node label, best interconnect first.",
        ),
        CodeDoc(
            "RBG314",
            "placement-conflict",
            "Placement rules that cannot all hold.",
            "A required pack at a level as narrow as or narrower than a required spread or "
            "separate of the same roles leaves no placement (one domain of a level lies inside "
            "one domain of every broader level); a role packed by two rules, a pack preferring "
            "a broader tier than it requires, and exclusive topology broader than a required "
            "pack are refused too. Both locations are shown.",
            "- roles: [router]\n  pack: {required: host}\n- roles: [router]\n  separate: "
            "{level: host}",
            "- roles: [router]\n  pack: {required: zone}\n- roles: [router]\n  separate: "
            "{level: host}",
        ),
        CodeDoc(
            "RBG315",
            "pack-not-atomic",
            "A pack is lowered to pod affinity, which the default scheduler checks pod by pod.",
            "The first pod picks a domain the others may not fit in; kube-scheduler has no "
            "gang-level topology. `rbgc fit` checks the whole group against a node inventory.",
            severity=Severity.WARNING,
            example=(
                "rules:\n"
                "  - roles: [prefill, decode]\n"
                "    pack: {required: zone}   # built with --scheduler default"
            ),
            fix=(
                "Check the whole group fits with `rbgc fit --nodes nodes.json`, use a gang "
                "scheduler that packs atomically (`--scheduler volcano`), or accept the warning: "
                "`--ignore RBG315` (Argo CD: the plugin env `RBGC_IGNORE: RBG315`)."
            ),
        ),
        CodeDoc(
            "RBG316",
            "volcano-topology-fidelity",
            "`--scheduler volcano`: a placement rule is expressed only approximately.",
            "Volcano's `networkTopology` has one mode and one tier per constraint: a pack with "
            "both `required` and `preferred` keeps the hard bound and drops the preference; soft "
            "mode does not anchor at a tier; and a group gang-scheduled by scheduler-plugins "
            "keeps pod affinity (KEP-473's stated losses).",
            severity=Severity.WARNING,
            example=(
                "pack: {required: zone, preferred: host}   # --scheduler volcano keeps "
                "zone, drops host"
            ),
            fix=(
                "Write one tier per pack for Volcano and name levels by HyperNode tier names; "
                "`--ignore RBG316` once you accept the approximation."
            ),
        ),
        CodeDoc(
            "RBG317",
            "instance-pack-not-lowered",
            "An `instanceTopologyConstraint` is accepted but not expressed in the compiled "
            "objects.",
            "KEP-473's instance pack keeps one instance's pods in one domain. rbgc compiles it "
            "as Volcano subgroups, Kueue TAS annotations, or pod affinity from each worker to "
            "its leader (a native LeaderWorkerSet's through `matchLabelKeys`, which Kubernetes "
            "honours from 1.31) or to its instance's label; where none of these exists for the "
            "role and the target, the objects do not pack each instance. The bundle's facts say "
            "so (`lowered: false`), and `rbgc fit` does not count on it (RBG354).",
            "rbgc build --kubernetes-version 1.30 group.yaml   # native LWS role with an "
            "instance pack",
            "rbgc build --kubernetes-version 1.31 group.yaml   # or --lws statefulsets, or "
            "--scheduler volcano",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG318",
            "pack-without-anchor",
            "A required pack would become a pod affinity no pod can satisfy.",
            "kube-scheduler admits a pod with required pod affinity only where one existing pod "
            "matches every required term at once (interpodaffinity/filtering.go; "
            "kubernetes#130784). A role that already requires pods the pack's pods are not "
            "(a cache, another app, another namespace) could never be placed with the pack's "
            "term beside its own, so rbgc writes the pack's levels as preferred terms only "
            "and records the pack as not enforced.",
            "template:\n  spec:\n    affinity:\n      podAffinity:\n        "
            "requiredDuringSchedulingIgnoredDuringExecution:\n        - labelSelector: "
            "{matchLabels: {app: cache}}\n          topologyKey: kubernetes.io/hostname",
            "preferredDuringSchedulingIgnoredDuringExecution for the role's own term, or "
            "`rbgc build --scheduler volcano` (the pack becomes the PodGroup's "
            "networkTopology)",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG319",
            "volcano-tier-unverified",
            "`--scheduler volcano`: a tier is written under a name nothing maps to the "
            "cluster's HyperNodes.",
            "Volcano translates `highestTierName` through its HyperNodes' `tierName`; a name "
            "none of them has is logged and the hard bound is dropped (session.go "
            "`translateHighestTierNameToAllowed`), so the pods schedule unconstrained. rbgc's "
            "own tier names (`host`, `zone`) are HyperNode tier names only if the cluster's "
            "operator chose them.",
            "tiers:\n  - {name: rack, nodeLabel: example.com/rack}",
            "tiers:\n  - {name: rack, nodeLabel: example.com/rack, volcanoTier: leaf}   # or "
            "a tier number: volcanoTier: 2",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG320",
            "kueue-no-queue",
            "`--scheduler kueue`: the group names no LocalQueue.",
            "Kueue admits workloads labelled `kueue.x-k8s.io/queue-name` (unless configured to "
            "manage every workload); without the label it leaves them alone and never reads "
            "their topology annotations, so the packs rbgc wrote for Kueue would not hold.",
            "rbgc build --scheduler kueue group.yaml",
            "rbgc build --scheduler kueue --kueue-queue team-a group.yaml   # or annotate the "
            "group kueue.x-k8s.io/queue-name: team-a",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG321",
            "instance-pack-needs-its-own-anchor",
            "An instance pack cannot join the pod affinity its pods already carry.",
            "kube-scheduler needs one existing pod to match all of a pod's required affinity "
            "terms; the first pod of a new instance matches no other pod's instance label, so "
            "it is placed by its own terms alone (the self-affinity exception) and every other "
            "required term of it stops binding. rbgc therefore compiles an instance pack as pod "
            "affinity only where the instance has a leader to follow, or where its pods carry "
            "no other required pod affinity (exclusive topology, a group pack, the user's).",
            example=(
                "- name: engine\n"
                "  instanceTopologyConstraint: {pack: {required: host}}\n"
                "  # and the role's pods require pod affinity to pods outside the instance"
            ),
            fix=(
                "Build for a gang scheduler that packs instances (`--scheduler volcano`), or make "
                "the role's own pod affinity preferred; `--ignore RBG321` to accept it."
            ),
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG322",
            "kueue-pack-not-expressible",
            "`--scheduler kueue`: Kueue cannot admit this pack in one domain.",
            "Kueue's Topology Aware Scheduling packs one workload's PodSet (or a PodSet group "
            "of one workload): a StatefulSet, or one group of a LeaderWorkerSet. A pack over "
            "several roles spans several workloads, and a Deployment's pods are admitted one by "
            "one; rbgc writes no partial Kueue annotation for them and compiles the pack as pod "
            "affinity, which kube-scheduler checks pod by pod once Kueue admits the pods.",
            "- roles: [prefill, decode]\n  pack: {required: zone}",
            "- roles: [prefill]\n  pack: {required: zone}\n- roles: [decode]\n  pack: "
            "{required: zone}   # or --scheduler volcano",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG323",
            "kueue-topology-fidelity",
            "`--scheduler kueue`: a pack's preference is not expressed.",
            "A Kueue PodSet carries at most one of `podset-required-topology` and "
            "`podset-preferred-topology` (jobframework/tas_validation.go); a pack with both "
            "keeps the required level.",
            example="pack: {required: zone, preferred: host}   # --scheduler kueue",
            fix=(
                "Nothing, if one domain of the required level is enough (Kueue packs the PodSet "
                "into as few domains as it can); `rbgc fit` reports the tier the pack fits at; "
                "`--ignore RBG323` to accept it."
            ),
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG324",
            "placement-field-needs-newer-kubernetes",
            "A placement field is not written: the target Kubernetes version drops it.",
            "The API server drops a scheduling field whose feature gate is off (spread "
            "`minDomains` before 1.27); rbgc says so rather than emit a field that vanishes.",
            "rbgc build --kubernetes-version 1.26 group.yaml   # a spread with minDomains",
            "rbgc build --kubernetes-version 1.30 group.yaml",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG325",
            "kai-scheduler-not-selected",
            "`--scheduler kai`: a packed role's pods do not ask for KAI Scheduler.",
            "KAI places only pods with `schedulerName: kai-scheduler`; any other scheduler "
            "ignores the topology annotations KAI's pod grouper reads, so the pack would not "
            "hold.",
            "template:\n  spec:\n    containers: [...]",
            "template:\n  spec:\n    schedulerName: kai-scheduler\n    containers: [...]",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG326",
            "kai-pack-not-expressible",
            "`--scheduler kai`: KAI cannot place this pack as one PodGroup.",
            "KAI's pod grouper makes one PodGroup per pod owner: a StatefulSet, a "
            "LeaderWorkerSet group, each Deployment pod. A pack over several roles, or over a "
            "Deployment, spans several PodGroups; rbgc compiles it as pod affinity, which KAI "
            "checks pod by pod.",
            "- roles: [prefill, decode]\n  pack: {required: zone}",
            "- roles: [prefill]\n  pack: {required: zone}   # or --scheduler volcano",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG327",
            "kai-topology-unnamed",
            "`--scheduler kai`: a pack names no KAI Topology resource.",
            "KAI applies a topology constraint only when `kai.scheduler/topology` names one of "
            "its `Topology` resources (plugins/topology/job_filtering.go); rbgc's built-in "
            "`default` topology is no such resource.",
            "topologyConstraint: {pack: {required: zone}}",
            "topologyConstraint: {topologyName: cluster-topology, pack: {required: "
            "topology.kubernetes.io/zone}}",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG350",
            "invalid-inventory",
            "`rbgc fit`: the node or pod inventory cannot be read.",
            "`--nodes` takes what `kubectl get nodes -o yaml` prints (a `v1 List` of Node, or "
            "Node documents), `--pods` what `kubectl get pods -A -o yaml` prints. A document of "
            "another kind, a node listed twice, a node without `status.allocatable`, or a "
            "quantity Kubernetes would not accept would make any answer wrong (exit 2).",
            "status:\n  allocatable:\n    nvidia.com/gpu: eight",
            'status:\n  allocatable:\n    nvidia.com/gpu: "8"',
        ),
        CodeDoc(
            "RBG351",
            "unreadable-pod-requirement",
            "`rbgc fit`: a pod template's resources or scheduling fields cannot be read.",
            "`rbgc fit` reads requests, limits, overhead, nodeSelector, affinity, tolerations "
            "and topologySpreadConstraints as the scheduler does; a quantity such as `8 GB` or "
            "an operator Kubernetes does not know leaves nothing to decide on (exit 2).",
            "resources:\n  limits:\n    memory: 8 GB",
            "resources:\n  limits:\n    memory: 8Gi",
        ),
        CodeDoc(
            "RBG352",
            "fit-approximation",
            "`rbgc fit`: a scheduling term is not evaluated exactly.",
            "Some terms depend on what the inventory does not hold (the labels of namespaces "
            "for a `namespaceSelector`) or on counting pods other than those that carry them "
            "(a spread constraint whose selector picks other pods); `rbgc fit` says how it "
            "reads them instead of pretending to be exact.",
            severity=Severity.WARNING,
            example=(
                "podAffinity:\n"
                "  requiredDuringSchedulingIgnoredDuringExecution:\n"
                "    - namespaceSelector: {matchLabels: {team: ml}}   # namespace labels are not "
                "in the inventory\n"
                "      topologyKey: kubernetes.io/hostname"
            ),
            fix=(
                "Read the answer with the approximation the message names; `--ignore RBG352` "
                "once you have checked it."
            ),
        ),
        CodeDoc(
            "RBG353",
            "tiers-do-not-nest",
            "`rbgc fit`: the inventory's domains of a tier do not nest in the next tier's.",
            "A Topology lists tiers best first, each inside the next (an NVLink domain inside "
            "a zone); rbgc trusts that order when it falls back from one tier to the next. An "
            "inventory where one domain spans two domains of the broader tier shows the order "
            "or the node labels are wrong.",
            severity=Severity.WARNING,
            example=(
                "tiers: [{name: nvlink, nodeLabel: nvidia.com/gpu.clique}, {name: host, "
                "nodeLabel: kubernetes.io/hostname}]\n"
                "# while one NVLink domain spans several hosts"
            ),
            fix=(
                "List the tiers as the hardware nests, narrowest first (host before nvlink when "
                "an NVLink domain spans hosts), or fix the nodes' labels."
            ),
        ),
        CodeDoc(
            "RBG354",
            "rule-not-enforced",
            "`fit`: a placement rule is not in the compiled objects, so the answer does not "
            "count on it.",
            "The build accepts some rules it cannot lower for the chosen target (today "
            "`instanceTopologyConstraint`, RBG317). No scheduler will keep such a rule, so "
            "`rbgc fit` places the group without it: its answer holds in the cluster, and this "
            "warning says the rule does not.",
            severity=Severity.WARNING,
            example=(
                "- name: decode\n"
                "  instanceTopologyConstraint:\n"
                "    pack: {required: host}   # RBG317: not in the compiled objects"
            ),
            fix=(
                "Nothing for the answer, which holds without the rule; the rule itself is not "
                "kept by the cluster (RBG317)."
            ),
        ),
        CodeDoc(
            "RBG355",
            "rollout-cannot-proceed",
            "`fit`: a Deployment role's rolling update would wait forever for its surge pod.",
            "With `maxUnavailable: 0` the Deployment controller keeps every old pod until a "
            "new one is ready. A required anti-affinity (`separate`) or a packed domain that "
            "counts the old pods can leave the new pod no node, and the rollout never moves. "
            "Let old pods go first, leave room, or (Kubernetes 1.31+) add `matchLabelKeys: "
            "[pod-template-hash]` to the term (exit 1).",
            "rolloutStrategy:\n  rollingUpdate: {maxSurge: 1, maxUnavailable: 0}",
            "rolloutStrategy:\n  rollingUpdate: {maxSurge: 1, maxUnavailable: 1}",
            severity=Severity.WARNING,
        ),
        CodeDoc(
            "RBG356",
            "scheduling-field-ignored",
            "`fit`: a scheduling field the target Kubernetes version ignores.",
            "`matchLabelKeys` in pod (anti-)affinity needs Kubernetes 1.31, `minDomains` and "
            "`matchLabelKeys` in a spread 1.27, `nodeAffinityPolicy` / `nodeTaintsPolicy` 1.26 "
            "(the releases that turn them on by default). Below that the API server drops the "
            "field or the scheduler ignores it, and so does `rbgc fit` (`--kubernetes-version`).",
            severity=Severity.WARNING,
            example=(
                "topologySpreadConstraints:\n"
                "  - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: "
                "3}\n"
                "# rbgc fit --kubernetes-version 1.26"
            ),
            fix=(
                "Pass the cluster's real version (`--kubernetes-version`), or remove the field "
                "the cluster ignores."
            ),
        ),
        CodeDoc(
            "RBG510",
            "unknown-engine-runtime",
            "`engineRuntimes[].profileName` names a ClusterEngineRuntimeProfile not in the inputs.",
            "rbgc injects the profile's sidecars at compile time, so the profile document "
            "must be compiled together with the group (same files or folders).",
            example=(
                "engineRuntimes:\n"
                "  - profileName: patio-runtime   # no ClusterEngineRuntimeProfile patio-runtime "
                "among the inputs"
            ),
            fix=(
                "Pass the profile's file with the group (`rbgc build group.yaml profiles/`), or "
                "remove the entry."
            ),
        ),
    )
)
CODES.update(
    _doc(
        CodeDoc(
            "RBG012",
            "integer-too-large",
            "An integer does not fit in 64 bits.",
            "Kubernetes stores integers in 64 bits: the API server rejects a larger one or "
            "silently turns it into an imprecise float, and a number of thousands of digits "
            "would take Python seconds to convert.",
            "size: 123456789012345678901234567890",
            'size: "123456789012345678901234567890"',
        ),
        CodeDoc(
            "RBG013",
            "too-deeply-nested",
            "Values are nested more than 200 levels deep.",
            "Real manifests are a few dozen levels deep (a CRD embedding a pod template: about "
            "50); thousands of nested `[` are an accident or an attack, and would exhaust the "
            "recursion of every tool that reads the object.",
            "data: [[[[[[[[ ... ]]]]]]]]",
            fix="Write the value flatter; if a tool generated it, fix the generator.",
        ),
        CodeDoc(
            "RBG104",
            "misspelt-kind",
            "A document's kind or API group is close to, but not, one rbgc compiles.",
            "A document rbgc does not recognise passes through unchanged: a misspelt "
            "`kind: RoleBaseGroup` or `apiVersion: workload.x-k8s.io/v1alpha1` would be applied "
            "as is, and the group would never run. Every kind of the `workloads.x-k8s.io` group "
            "and anything within a few letters of an RBG kind or group is refused.",
            "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBaseGroup",
            "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup",
        ),
    )
)
CODES = dict(sorted(CODES.items()))
