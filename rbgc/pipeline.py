"""The only place that knows the order of the passes.

    load (source + overlays) -> parse -> for each group: validate -> dependencies ->
    placement -> expand -> discovery -> inplace -> record (its facts); then operator_objects
    over the whole program, the warm-ups, the duplicate check, and the Bundle in apply order

Emitting the Bundle is the caller's (`emit.py`, `outdir.py`). Each group is compiled on its
own; problems of every group are gathered and reported together.
`Trace` records what each pass decided, for `rbgc build --explain`; it describes the passes'
outputs and never feeds back into them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rbgc.bundle import Bundle, GroupFacts
from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, Span, error
from rbgc.inputs import load
from rbgc.k8s.conventions import CLUSTER_SCOPED_KINDS
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.pods import refused_pods
from rbgc.model import Group, Program, Target, Waves
from rbgc.parse import parse
from rbgc.passes.addresses import check_addresses
from rbgc.passes.dependencies import resolve_dependencies
from rbgc.passes.discovery import inject_discovery
from rbgc.passes.expand import expand
from rbgc.passes.inplace import compile_in_place
from rbgc.passes.operator_objects import operator_objects
from rbgc.passes.placement import finish, place
from rbgc.passes.validate import validate
from rbgc.record import record_group
from rbgc.source import Document
from rbgc.warmup.spec import Warmup

if TYPE_CHECKING:
    from rbgc.warmup.build import NodeLabels

PASS_NAMES = ("validate", "dependencies", "placement", "expand", "discovery", "inplace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How to compile: default namespace, target cluster, overlay root."""

    namespace: str = "default"
    target: Target = field(default_factory=Target)
    root: str | None = None  # overlay bases must stay inside it (None: the repository root)
    nodes: NodeLabels | None = None  # `--nodes`: a warm-up's nodeSelector is resolved on them
    warmup_later: bool = False  # rbgc sync resolves what the build cannot (else RBG531)


@dataclass(slots=True)
class Trace:
    """What each pass decided, per group: `(pass, group, line)` in the order they ran."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, stage: str, group: Group, line: str) -> None:
        self.entries.append((stage, f"{group.namespace}/{group.name}", line))

    def stages(self) -> list[str]:
        return list(dict.fromkeys(stage for stage, _, _ in self.entries))

    def render(self) -> str:
        return "".join(f"[{stage}] {group}: {line}\n" for stage, group, line in self.entries)


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """A compiled bundle, the IR it came from, warnings and the pass trace."""

    bundle: Bundle
    program: Program
    warnings: tuple[Diagnostic, ...]
    trace: Trace


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiled:
    """One group, compiled: its objects, what the build decided, the warnings."""

    manifests: tuple[Manifest, ...]
    facts: GroupFacts
    warnings: tuple[Diagnostic, ...]


def compile_group(group: Group, program: Program, target: Target, trace: Trace) -> Compiled:
    conventions = group.conventions
    checked = validate(group, target, program.profiles)
    trace.add("validate", group, f"{len(group.roles)} role(s) valid")

    levels = resolve_dependencies(checked.group)
    placement = place(checked.group, levels, target, conventions)
    # Each role's sync wave, decided here once: its dependency level, after the PodGroup when
    # the group has one (Argo CD applies custom resources last within a wave). The objects,
    # and through them the facts, graph, plan and sync, carry exactly these numbers.
    waves = Waves(
        of_role={r: w + placement.wave_offset for r, w in levels.of_role.items()},
        order=levels.order,
    )
    for pod_group in placement.manifests:
        trace.add(
            "dependencies", group, f"wave 0: PodGroup {pod_group.name} (gang: before every role)"
        )
    for wave in sorted(set(waves.of_role.values())):
        members = [r for r in waves.order if waves.of_role[r] == wave]
        trace.add("dependencies", group, f"wave {wave}: {', '.join(members)}")

    for role in group.roles:
        decided = placement.of_role[role.name]
        trace.add(
            "placement",
            group,
            f"role {role.name}: "
            + ("; ".join(decided.reasons) if decided.reasons else "no placement constraints"),
        )

    expanded = expand(checked.group, waves, placement, target, conventions, program.profiles)
    expanded = replace(expanded, manifests=finish(expanded.manifests, checked.group, placement))
    for role in group.roles:
        for runtime in role.engine_runtimes:
            trace.add("expand", group, f"role {role.name}: sidecars of {runtime.profile}")
    for m in expanded.manifests:
        trace.add("expand", group, f"{m.kind} {m.namespace}/{m.name} (wave {m.wave})")

    discovered = inject_discovery(
        checked.group,
        waves,
        placement,
        expanded,
        services=program.passthrough,
        conventions=conventions,
        lws=target.lws,
    )
    for m in discovered.manifests:
        if m.kind == "ConfigMap" and m.group == group.name:
            by = f"role {m.role}" if m.role is not None else "the stateful roles"
            trace.add(
                "discovery", group, f"ConfigMap {m.namespace}/{m.name} mounted at /etc/rbg by {by}"
            )
    manifests, updated = compile_in_place(checked.group, discovered.manifests, target)
    for line in updated or ("no role is updated in place",):
        trace.add("inplace", group, line)
    warnings = (*checked.warnings, *placement.warnings, *expanded.warnings, *discovered.warnings)
    return Compiled(
        manifests=manifests,
        facts=record_group(checked.group, manifests, placement.lowering),
        warnings=warnings,
    )


def compile_documents(documents: list[Document], options: Options) -> Result:
    """Documents -> ordered Bundle. Raises DiagnosticError with every problem of every group."""
    if not documents:
        raise DiagnosticError(
            [
                error(
                    "RBG011",
                    "no Kubernetes objects found in the inputs",
                    None,
                    help="pass files or folders that contain *.yaml manifests",
                )
            ]
        )
    program = parse(documents, options.namespace, options.target.conventions)
    trace = Trace()
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = list(program.warnings)
    manifests: list[Manifest] = list(program.passthrough)
    facts: list[GroupFacts] = []
    # The groups of one RoleBasedGroupSet share their text: report each place once.
    reported: set[tuple[str, Span | None]] = set()
    for group in program.groups:
        try:
            compiled = compile_group(group, program, options.target, trace)
        except DiagnosticError as exc:
            for d in exc.diagnostics:
                if group.set_name is None or (d.code, d.span) not in reported:
                    problems.append(d)
                    reported.add((d.code, d.span))
            continue
        manifests.extend(compiled.manifests)
        facts.append(compiled.facts)
        warnings.extend(compiled.warnings)
    chosen = {(g.namespace, g.name): g.conventions for g in program.groups}
    manifests, found = operator_objects(program, manifests, chosen, options.namespace)
    warnings.extend(found)
    warmups: tuple[Warmup, ...] = ()
    if program.warmups:  # their Job lowering is imported only for inputs that hold one
        from rbgc.warmup.build import lower as lower_warmups

        lowered = lower_warmups(program.warmups, options.nodes, later=options.warmup_later)
        warmups = lowered.warmups
        manifests.extend(lowered.manifests)
        problems.extend(d for d in lowered.problems if d.severity is Severity.ERROR)
        warnings.extend(d for d in lowered.problems if d.severity is not Severity.ERROR)
    if not problems:  # a group that failed made no pods: its peers' addresses cannot be judged
        warnings.extend(check_addresses(program, manifests, options.namespace))
    problems.extend(_duplicates(manifests, options.namespace))
    problems.extend(refused_pods(manifests))  # refused by every API server (k8s/pods.py)
    if problems:
        raise DiagnosticError([*problems, *warnings])
    ordered = tuple(sorted(manifests, key=Manifest.sort_key))
    return Result(
        bundle=Bundle(
            manifests=ordered,
            groups=tuple(sorted(facts, key=lambda g: g.key)),
            warmups=warmups,
        ),
        program=program,
        warnings=tuple(sorted(set(warnings), key=Diagnostic.sort_key)),
        trace=trace,
    )


def compile_paths(paths: Iterable[str], options: Options, stdin: Any = None) -> Result:
    named = list(paths)
    documents = load(named, stdin, root=options.root)
    if not documents:
        raise DiagnosticError(no_input(named))
    return compile_documents(documents, options)


def no_input(paths: Iterable[str]) -> list[Diagnostic]:
    """RBG011 at each input that gave nothing, saying whether it was empty, had no files, or
    held no Kubernetes object (the files `inputs.load` skips)."""
    from rbgc.inputs import OBJECT_RULE, holds_documents
    from rbgc.source import STDIN, expand_paths

    found = []
    for path in paths:
        if path == STDIN:
            what = "standard input holds no YAML document"
        elif os.path.isdir(path):
            if expand_paths([path]):
                what = f"none of its *.yaml and *.yml files holds a document with {OBJECT_RULE}"
            else:
                what = "the folder holds no *.yaml or *.yml file (hidden entries are skipped)"
        elif holds_documents(path):
            what = f"no document of the file has {OBJECT_RULE}"
        else:
            what = "the file holds no YAML document (only comments or empty documents)"
        found.append(
            error(
                "RBG011",
                f"no Kubernetes objects found: {what}",
                Span(path),
                help="pass files or folders that contain Kubernetes manifests; an empty build "
                "would let a GitOps tool prune everything it manages",
            )
        )
    return found


def _duplicates(manifests: list[Manifest], namespace: str) -> list[Diagnostic]:
    seen: dict[tuple[str, str, str, str], Manifest] = {}
    problems = []
    for m in manifests:
        group, kind, ns, name = m.identity()
        if not ns and kind not in CLUSTER_SCOPED_KINDS:
            ns = namespace  # applied without a namespace, it lands in the default one
        key = (group, kind, ns, name)
        if key in seen:
            first = seen[key]
            where = f"{m.namespace}/{m.name}" if m.namespace else m.name
            problems.append(
                error(
                    "RBG113",
                    f"{m.kind} {where} is produced twice",
                    m.origin,
                    help="rename one group or role, or remove the duplicate object",
                    notes=((first.origin, "also produced here"),),
                )
            )
        else:
            seen[key] = m
    return problems
