"""Views of a diff and of a plan: text (coloured on a terminal), JSON, Markdown.

The JSON shapes are a stable, documented format (docs/diff-format.md): fields may be added,
never renamed or removed, within one `format` version.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from rbgc.graph.chart import rollout_charts
from rbgc.k8s import controllers
from rbgc.k8s.manifest import Manifest
from rbgc.plan.diff import ABSENT, Added, Change, Changed, FieldChange, Removed, summary
from rbgc.plan.model import Action, Op, Plan, Step, Warmup

DIFF_FORMAT = "rbgc.diff/v1"
PLAN_FORMAT = "rbgc.plan/v1"

_RESET = "\x1b[0m"
_STYLE = {
    "+": "\x1b[32m",
    "-": "\x1b[31m",
    "~": "\x1b[33m",
    "recreate": "\x1b[1;31m",
    "restarts": "\x1b[1;33m",
    "scale": "\x1b[36m",
    "config": "\x1b[34m",
    "metadata": "\x1b[2m",
    "bold": "\x1b[1m",
    "ok": "\x1b[32m",
    "fail": "\x1b[1;31m",
}


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLE[style]}{text}{_RESET}" if color else text


# --- diff ----------------------------------------------------------------------------------


def _sign(change: Change) -> str:
    return "+" if isinstance(change, Added) else "-" if isinstance(change, Removed) else "~"


def _where(m: Manifest) -> str:
    return f"{m.namespace}/{m.name}" if m.namespace else m.name


def _pods(m: Manifest) -> int:
    return controllers.pods(m.body)


def _value(v: Any) -> str:
    if v is ABSENT:
        return "(absent)"
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=False, separators=(", ", ": "))


def _field_lines(f: FieldChange) -> list[str]:
    if isinstance(f.old, str) and isinstance(f.new, str) and ("\n" in f.old or "\n" in f.new):
        lines = [f"{f.display}:"]
        body = difflib.unified_diff(
            f.old.splitlines(), f.new.splitlines(), "old", "new", lineterm="", n=1
        )
        lines += [f"  {line}" for line in list(body)[2:]]
        return lines
    if f.old is ABSENT:
        return [f"{f.display}: added {_value(f.new)}"]
    if f.new is ABSENT:
        return [f"{f.display}: removed (was {_value(f.old)})"]
    return [f"{f.display}: {_value(f.old)} -> {_value(f.new)}"]


def _headline(counts: dict[str, int]) -> str:
    text = f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} removed"
    text += f"; {counts['restarts']} pod(s) restart"
    if counts.get("in_place"):
        text += f", {counts['in_place']} updated in place"
    return text


def diff_text(changes: Sequence[Change], *, color: bool = False) -> str:
    if not changes:
        return "rbgc diff: no changes\n"
    out: list[str] = []
    for c in changes:
        m = c.subject
        head = f"{_sign(c)} {m.kind} {_where(m)}  (wave {m.wave}"
        head += f", role {m.role})" if m.role else ")"
        out.append(_paint(head, _sign(c), color))
        if isinstance(c, Changed):
            classes = ", ".join(_paint(k.value, k.value, color) for k in c.classes)
            restarts = f"; {c.restarts} pod(s) restart" if c.restarts else ""
            if c.in_place:
                restarts += f"; {c.in_place} pod(s) updated in place, 0 recreated"
            out.append(f"    [{classes}]{restarts}")
            for f in c.fields:
                tag = _paint(f"{f.cls.value:<8}", f.cls.value, color)
                first, *rest = _field_lines(f)
                out.append(f"    {tag} {first}")
                out += [f"             {line}" for line in rest]
            out += [f"    => {text}" for text in c.consequences]
        elif _pods(m):
            verb = "starts" if isinstance(c, Added) else "stops"
            out.append(f"    {verb} {_pods(m)} pod(s)")
    out.append("")
    out.append(_paint("rbgc diff: " + _headline(summary(changes)), "bold", color))
    return "\n".join(out) + "\n"


def diff_json(changes: Sequence[Change]) -> str:
    items = []
    for c in changes:
        m = c.subject
        item: dict[str, Any] = {
            "change": "added"
            if isinstance(c, Added)
            else "removed"
            if isinstance(c, Removed)
            else "changed",
            "apiVersion": m.api_version,
            "kind": m.kind,
            "namespace": m.namespace,
            "name": m.name,
            "group": m.group,
            "role": m.role,
            "wave": m.wave,
            "classes": [k.value for k in c.classes] if isinstance(c, Changed) else [],
            "restarts": c.restarts if isinstance(c, Changed) else 0,
            "in_place": c.in_place if isinstance(c, Changed) else 0,
            "pods": {
                "old": _pods(c.old)
                if isinstance(c, Changed)
                else _pods(m) * isinstance(c, Removed),
                "new": _pods(c.new) if isinstance(c, Changed) else _pods(m) * isinstance(c, Added),
            },
            "fields": [],
            "consequences": list(c.consequences) if isinstance(c, Changed) else [],
        }
        if isinstance(c, Changed):
            for f in c.fields:
                entry: dict[str, Any] = {"path": f.display, "class": f.cls.value}
                if f.old is not ABSENT:
                    entry["old"] = f.old
                if f.new is not ABSENT:
                    entry["new"] = f.new
                item["fields"].append(entry)
        items.append(item)
    doc = {"format": DIFF_FORMAT, "summary": summary(changes), "changes": items}
    return json.dumps(doc, indent=2) + "\n"


def diff_markdown(changes: Sequence[Change]) -> str:
    if not changes:
        return "### rbgc diff\n\nNo changes.\n"
    out = [f"### rbgc diff: {_headline(summary(changes))}", ""]
    out += ["| | Object | Wave | Classes | Restarts |", "|---|---|---|---|---|"]
    for c in changes:
        m = c.subject
        classes = (
            ", ".join(k.value for k in c.classes)
            if isinstance(c, Changed)
            else c.__class__.__name__.lower()
        )
        restarts = c.restarts if isinstance(c, Changed) else 0
        out.append(f"| {_sign(c)} | {m.kind} `{_where(m)}` | {m.wave} | {classes} | {restarts} |")
    details = [c for c in changes if isinstance(c, Changed)]
    if details:
        out += ["", "<details><summary>Field changes</summary>", ""]
        for c in details:
            out += [f"**{c.subject.kind} `{_where(c.subject)}`**", "", "```"]
            for f in c.fields:
                out += [f"{f.cls.value:<8} {line}" for line in _field_lines(f)]
            out += ["```", ""]
            out += [f"- {text}" for text in c.consequences]
            if c.consequences:
                out.append("")
        out.append("</details>")
    return "\n".join(out) + "\n"


# --- plan ----------------------------------------------------------------------------------


def _names(names: Sequence[str], count: int, what: str) -> str:
    if names:
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4} more)" if len(names) > 4 else "")
        return shown
    return f"{count} {what} pod(s)"


def action_text(a: Action) -> str:
    per = f" (groups of {a.pods_per_replica} pods)" if a.pods_per_replica > 1 else ""
    target = f"replicas {a.replicas}"
    if a.partition is not None:
        target += f", partition {a.partition}"
    parts = []
    if a.op is Op.RECREATE:
        return (
            f"delete and create again ({target}): all {a.pods_down} old pod(s) go down at once{per}"
        )
    if a.op is Op.DELETE:
        return f"delete the {a.kind}: stop {_names(a.deleted, a.delete, 'old')}{per}"
    if a.op is Op.CREATE:
        return f"create the {a.kind} ({target}): start {_names(a.created, a.create, 'new')}{per}"
    if a.op is Op.IN_PLACE:
        grace = f", {a.grace}s after it leaves its Services" if a.grace else ""
        names = _names(a.updated_in_place, a.pods_in_place, "old")
        return f"{target}: update in place {names} (new images{grace}; 0 recreated){per}"
    if a.replace:
        parts.append(f"replace {_names(a.replaced, a.replace, 'old')}")
    if a.create:
        parts.append(f"start {_names(a.created, a.create, 'new')}")
    if a.delete:
        parts.append(f"remove {_names(a.deleted, a.delete, 'old')}")
    if not parts:
        parts.append("hold every pod (the new template waits behind the partition)")
    return f"{target}: " + "; ".join(parts) + per


def _table(step: Step) -> list[str]:
    names = list(step.roles)
    width = max(len(n) for n in [*names, "role"])
    lines = [f"    {'role':<{width}}  replicas  updated  available  floor  partition"]
    for n in names:
        s = step.roles[n]
        part = "-" if s.partition is None else str(s.partition)
        lines.append(
            f"    {n:<{width}}  {s.replicas:>8}  {s.updated:>7}  {s.available:>9}  "
            f"{s.floor:>5}  {part:>9}"
        )
    return lines


def _counts(plan: Plan) -> str:
    text = f"{plan.total_steps} step(s), {plan.restarts} pod(s) restart"
    if plan.in_place:
        text += f", {plan.in_place} updated in place"
    return text


def warmup_text(w: Warmup) -> str:
    pods = _names(w.pods, w.pod_count, "running")
    count = f" ({w.pod_count} pod(s))" if w.pods else ""
    when = f"from step {w.starts}" + (
        f", alongside steps {w.starts}-{w.before - 1}" if w.before > w.starts else ""
    )
    return (
        f"pull {', '.join(w.images)} on the nodes of {pods}{count}; {when}; step {w.before} "
        "waits for it"
    )


def _waits(plan: Plan, step: Step) -> list[str]:
    return [w.name for w in plan.warmups if w.before == step.number]


def plan_text(plan: Plan, *, color: bool = False) -> str:
    out = []
    head = f"rbgc plan: {_counts(plan)} (Kubernetes {plan.kubernetes_version})"
    out.append(_paint(head, "bold", color))
    if not plan.steps:
        out.append("no pod is started, stopped or restarted")
    if plan.warmups:
        out.append("")
        out.append(
            _paint("warm-up (--warmup): new images pulled on the pods' nodes first", "bold", color)
        )
        for w in plan.warmups:
            out.append(f"  {w.name}  {w.group}  {w.role}: {warmup_text(w)}")
    for step in plan.steps:
        out.append("")
        title = f"step {step.number}  {step.group}  wave {step.wave}  ({step.down} pod(s) down)"
        out.append(_paint(title, "bold", color))
        waits = _waits(plan, step)
        if waits:
            out.append(f"  waits for warm-up {', '.join(waits)}")
        width = max(len(a.role) for a in step.actions)
        for a in step.actions:
            out.append(f"  {a.role:<{width}}  {a.kind} {a.object}: {action_text(a)}")
        out += _table(step)
        if step.skew:
            out.append(
                "    progress skew: " + ", ".join(f"{k} {v:g}%" for k, v in step.skew.items())
            )
    if plan.stopped_after is not None:
        out.append("")
        out.append(
            f"stopped after step {plan.stopped_after} of {plan.total_steps} (--stop-after): "
            "a canary; the remaining steps are not shown"
        )
    out.append("")
    out.append("invariants (checked over the whole plan):")
    for inv in plan.invariants:
        mark = _paint("ok", "ok", color) if inv.holds else _paint("FAILED", "fail", color)
        out.append(f"  [{mark}] {inv.name}: {inv.detail}")
    if plan.notes:
        out.append("")
        out.append("notes:")
        out += [f"  - {n}" for n in plan.notes]
    return "\n".join(out) + "\n"


def _action_json(a: Action) -> dict[str, Any]:
    return {
        "role": a.role,
        "kind": a.kind,
        "object": a.object,
        "op": a.op,
        "replicas": a.replicas,
        "partition": a.partition,
        "create": a.create,
        "replace": a.replace,
        "delete": a.delete,
        "pods_per_replica": a.pods_per_replica,
        "created": list(a.created),
        "replaced": list(a.replaced),
        "deleted": list(a.deleted),
        "updated_in_place": list(a.updated_in_place),
        "in_place": a.pods_in_place,
        "grace_seconds": a.grace,
    }


def plan_json(plan: Plan) -> str:
    doc = {
        "format": PLAN_FORMAT,
        "kubernetes_version": plan.kubernetes_version,
        "total_steps": plan.total_steps,
        "stopped_after": plan.stopped_after,
        "restarts": plan.restarts,
        "in_place": plan.in_place,
        "warmups": [
            {
                "name": w.name,
                "group": w.group,
                "role": w.role,
                "wave": w.wave,
                "images": list(w.images),
                "pods": list(w.pods),
                "pod_count": w.pod_count,
                "starts": w.starts,
                "before": w.before,
            }
            for w in plan.warmups
        ],
        "steps": [
            {
                "step": s.number,
                "group": s.group,
                "wave": s.wave,
                "down": s.down,
                "waits_for": _waits(plan, s),
                "actions": [_action_json(a) for a in s.actions],
                "roles": {
                    n: {
                        "replicas": r.replicas,
                        "updated": r.updated,
                        "available": r.available,
                        "floor": r.floor,
                        "partition": r.partition,
                    }
                    for n, r in s.roles.items()
                },
                "skew": dict(s.skew),
            }
            for s in plan.steps
        ],
        "invariants": [
            {"name": i.name, "holds": i.holds, "detail": i.detail} for i in plan.invariants
        ],
        "notes": list(plan.notes),
    }
    return json.dumps(doc, indent=2) + "\n"


def plan_markdown(plan: Plan) -> str:
    out = [
        f"### rbgc plan: {_counts(plan)} (Kubernetes {plan.kubernetes_version})",
        "",
    ]
    if plan.warmups:
        out += ["**Warm-up** (`--warmup`): new images pulled on the pods' nodes first", ""]
        out += ["| Warm-up | Group | Role | What happens |", "|---|---|---|---|"]
        out += [f"| {w.name} | `{w.group}` | {w.role} | {warmup_text(w)} |" for w in plan.warmups]
        out.append("")
    if not plan.steps:
        out.append("No pod is started, stopped or restarted.")
    else:
        out += ["| Step | Group | Wave | What happens | Pods down |", "|---|---|---|---|---|"]
        for s in plan.steps:
            waits = _waits(plan, s)
            what = "<br>".join(
                ([f"waits for warm-up {', '.join(waits)}"] if waits else [])
                + [f"**{a.role}**: {action_text(a)}" for a in s.actions]
            )
            out.append(f"| {s.number} | `{s.group}` | {s.wave} | {what} | {s.down} |")
        out += ["", *rollout_charts(plan)]
        out += [
            "<details><summary>Replicas per step (replicas / updated / available, floor)</summary>",
            "",
        ]
        roles = list(plan.steps[0].roles)
        out += ["| Step | " + " | ".join(roles) + " |", "|---" * (len(roles) + 1) + "|"]
        for s in plan.steps:
            cells = [
                f"{s.roles[n].replicas} / {s.roles[n].updated} / {s.roles[n].available}, "
                f"{s.roles[n].floor}"
                if n in s.roles
                else ""
                for n in roles
            ]
            out.append(f"| {s.number} | " + " | ".join(cells) + " |")
        out += ["", "</details>"]
    if plan.stopped_after is not None:
        out += ["", f"Stopped after step {plan.stopped_after} of {plan.total_steps} (canary)."]
    out += ["", "**Invariants**", ""]
    out += [f"- {'✅' if i.holds else '❌'} `{i.name}`: {i.detail}" for i in plan.invariants]
    if plan.notes:
        out += ["", "**Notes**", ""]
        out += [f"- {n}" for n in plan.notes]
    return "\n".join(out) + "\n"


def diff_view(changes: Sequence[Change], output: str, *, color: bool = False) -> str:
    """The diff as `text`, `json` or `markdown`."""
    if output == "json":
        return diff_json(changes)
    if output == "markdown":
        return diff_markdown(changes)
    return diff_text(changes, color=color)


def plan_view(plan: Plan, output: str, *, color: bool = False) -> str:
    """The plan as `text`, `json` or `markdown`."""
    if output == "json":
        return plan_json(plan)
    if output == "markdown":
        return plan_markdown(plan)
    return plan_text(plan, color=color)
