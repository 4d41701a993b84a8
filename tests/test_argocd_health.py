"""The Argo CD health check shipped for native LeaderWorkerSets, run in Lua 5.1.

Argo CD evaluates health scripts with gopher-lua (Lua 5.1) and a global `obj`; lupa's Lua 5.1
runtime runs the same file the way Argo CD would.
"""

from __future__ import annotations

from typing import Any

import pytest
from lupa import lua51

from tests.conftest import ROOT

SCRIPT = (ROOT / "integrations" / "argocd" / "health-leaderworkerset.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    return str(result["status"]), str(result["message"])


def lws(status: dict[str, Any] | None, generation: int = 2, replicas: int = 3) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "g-decode", "generation": generation},
        "spec": {"replicas": replicas},
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (lws(None), "Progressing"),
        (lws({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3}), "Progressing"),
        (lws({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 3}), "Progressing"),
        (lws({"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 1}), "Progressing"),
        (lws({"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 3}), "Healthy"),
        (
            lws(
                {
                    "observedGeneration": 2,
                    "readyReplicas": 0,
                    "conditions": [
                        {"type": "Failed", "status": "True", "message": "group 1 failed"}
                    ],
                }
            ),
            "Degraded",
        ),
        (lws({"observedGeneration": 2}, replicas=0), "Healthy"),
    ],
)
def test_leaderworkerset_health(obj: dict[str, Any], expected: str) -> None:
    status, message = health(obj)
    assert status == expected, message


def test_healthy_message_counts_groups() -> None:
    obj = lws({"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 3})
    assert health(obj) == ("Healthy", "3/3 groups ready")
