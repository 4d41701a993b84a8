"""Golden outputs for every example and every compat manifest, compared byte for byte.

CI never regenerates them: `make golden` rewrites, a human reviews `git diff tests/golden`.
Each case also passes the bundle invariants (including the strict Kubernetes schema check).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import pytest

from rbgc import emit
from rbgc.model import LwsLowering, Scheduler, Target
from rbgc.pipeline import Options, compile_paths
from tests.conftest import COMPAT, COMPAT_V08, COMPAT_V08_REFUSED, EXAMPLES, ROOT
from tests.invariants import check_invariants

GOLDEN = ROOT / "tests" / "golden"


@dataclass(frozen=True)
class Case:
    name: str
    inputs: tuple[Path, ...]
    expected: Path
    lws: LwsLowering = LwsLowering.NATIVE
    scheduler: Scheduler = Scheduler.DEFAULT


def _cases() -> list[Case]:
    cases = []
    for p in sorted(EXAMPLES.glob("*.yaml")):
        cases.append(Case(f"examples/{p.stem}", (p,), GOLDEN / "examples" / f"{p.stem}.yaml"))
        if "LeaderWorkerSet" in p.read_text(encoding="utf-8"):
            cases.append(
                Case(
                    f"examples-lws-statefulsets/{p.stem}",
                    (p,),
                    GOLDEN / "examples-lws-statefulsets" / f"{p.stem}.yaml",
                    LwsLowering.STATEFULSETS,
                )
            )
        if "kind: Placement" in p.read_text(encoding="utf-8"):  # --scheduler volcano's lowering
            cases.append(
                Case(
                    f"examples-volcano/{p.stem}",
                    (p,),
                    GOLDEN / "examples-volcano" / f"{p.stem}.yaml",
                    scheduler=Scheduler.VOLCANO,
                )
            )
    for path in sorted(COMPAT.rglob("*.yaml")):
        rel = path.relative_to(COMPAT)
        cases.append(Case(f"compat/{rel}", (path,), GOLDEN / "compat" / rel))
        if "LeaderWorkerSet" in path.read_text(encoding="utf-8"):
            cases.append(
                Case(
                    f"compat-lws-statefulsets/{rel}",
                    (path,),
                    GOLDEN / "compat-lws-statefulsets" / rel,
                    LwsLowering.STATEFULSETS,
                )
            )
    for path in sorted(COMPAT_V08.rglob("*.yaml")):
        rel = path.relative_to(COMPAT_V08)
        if str(rel) in COMPAT_V08_REFUSED:
            continue  # tests/test_compat_v1alpha2.py checks the diagnostic
        cases.append(Case(f"compat-v0.8/{rel}", (path,), GOLDEN / "compat-v0.8" / rel))
        if "leaderWorkerPattern" in path.read_text(encoding="utf-8"):
            cases.append(
                Case(
                    f"compat-v0.8-lws-statefulsets/{rel}",
                    (path,),
                    GOLDEN / "compat-v0.8-lws-statefulsets" / rel,
                    LwsLowering.STATEFULSETS,
                )
            )
        if "group-gang-scheduling" in path.read_text(encoding="utf-8"):  # the operator's flag
            cases.append(
                Case(
                    f"compat-v0.8-volcano/{rel}",
                    (path,),
                    GOLDEN / "compat-v0.8-volcano" / rel,
                    scheduler=Scheduler.VOLCANO,
                )
            )
    return cases


CASES = _cases()


def _options(case: Case) -> Options:
    return Options(target=Target(lws=case.lws, scheduler=case.scheduler))


def render(case: Case) -> str:
    result = compile_paths([str(p) for p in case.inputs], _options(case))
    return emit.yaml_stream(result.bundle)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden(case: Case) -> None:
    assert case.expected.exists(), f"no golden for {case.name}; run `make golden` and review it"
    actual = render(case)
    expected = case.expected.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                "expected",
                "actual",
            )
        )
        pytest.fail(f"{case.name} differs from its golden:\n{diff}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invariants(case: Case) -> None:
    check_invariants(compile_paths([str(p) for p in case.inputs], _options(case)))


def test_every_example_has_a_golden() -> None:
    names = {c.name for c in CASES}
    assert {f"examples/{p.stem}" for p in EXAMPLES.glob("*.yaml")} <= names
