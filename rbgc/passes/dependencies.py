"""Pass 2 of 5: dependencies. In: Group. Out: Waves. Errors: RBG2xx.

A role starts after every role it depends on is ready, so it lands one wave after its deepest
dependency (upstream HEAD's dependency *levels*; v0.4.0's single DFS sequence is the same
partial order, only more serial). Unknown names, self-dependencies and cycles are errors that
point at the dependency entries; a cycle is reported whole.
"""

from __future__ import annotations

import itertools

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, did_you_mean, error
from rbgc.model import Dependency, Group, Waves


def resolve_dependencies(group: Group) -> Waves:
    names = {role.name for role in group.roles}
    problems: list[Diagnostic] = []
    edges: dict[str, list[Dependency]] = {}
    for role in group.roles:
        kept: list[Dependency] = []
        for dep in role.dependencies:
            if dep.name == role.name:
                problems.append(
                    error(
                        "RBG202",
                        f"role {role.name!r} depends on itself",
                        dep.span,
                        help="remove the entry; a role cannot wait for itself",
                    )
                )
            elif dep.name not in names:
                problems.append(
                    error(
                        "RBG201",
                        f"role {role.name!r} depends on unknown role {dep.name!r}",
                        dep.span,
                        help=did_you_mean(
                            dep.name, names, "known roles: " + ", ".join(sorted(names))
                        ),
                    )
                )
            elif all(k.name != dep.name for k in kept):
                kept.append(dep)
        edges[role.name] = kept
    problems.extend(_cycles(edges))
    if problems:
        raise DiagnosticError(problems)

    # Kahn's algorithm, iteratively (a 1,000-role chain must not hit Python's recursion limit).
    wave: dict[str, int] = {}
    pending = {name: len(deps) for name, deps in edges.items()}
    dependents: dict[str, list[str]] = {name: [] for name in edges}
    for name, deps in edges.items():
        for dep in deps:
            dependents[dep.name].append(name)
    ready = sorted(name for name, count in pending.items() if count == 0)
    for name in ready:
        wave[name] = 0
    while ready:
        name = ready.pop()
        for child in dependents[name]:
            wave[child] = max(wave.get(child, 0), wave[name] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    order = tuple(sorted(names, key=lambda n: (wave[n], n)))
    return Waves(of_role=dict(sorted(wave.items())), order=order)


def _cycles(edges: dict[str, list[Dependency]]) -> list[Diagnostic]:
    """One diagnostic per distinct cycle found by walking from every role in name order."""
    found: dict[tuple[str, ...], list[str]] = {}
    done: set[str] = set()
    for start in sorted(edges):
        if start in done:
            continue
        # Iterative DFS keeping the current path; a back edge to the path closes a cycle.
        path: list[str] = [start]
        on_path = {start: 0}
        cursor = [0]
        while path:
            v = path[-1]
            deps = edges[v]
            if cursor[-1] < len(deps):
                w = deps[cursor[-1]].name
                cursor[-1] += 1
                if w in on_path:
                    cycle = path[on_path[w] :]
                    pivot = cycle.index(min(cycle))
                    ring = cycle[pivot:] + cycle[:pivot]
                    found.setdefault(tuple(ring), ring)
                elif w not in done:
                    on_path[w] = len(path)
                    path.append(w)
                    cursor.append(0)
            else:
                done.add(v)
                del on_path[v]
                path.pop()
                cursor.pop()
    problems = []
    for ring in sorted(found.values()):
        closed = [*ring, ring[0]]
        notes: list[tuple[Span, str]] = []
        for a, b in itertools.pairwise(closed):
            dep = next(d for d in edges[a] if d.name == b)
            notes.append((dep.span, f"{a!r} depends on {b!r} here"))
        problems.append(
            error(
                "RBG203",
                "dependency cycle: " + " -> ".join(closed),
                notes[0][0],
                help="remove one of these dependencies so the roles have a start order",
                notes=tuple(notes),
            )
        )
    return problems
