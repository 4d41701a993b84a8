"""Output layouts for `--out DIR`: flat, one folder per wave, and a Flux Kustomization chain.

Argo CD reads the sync-wave annotation on each object; Flux has no waves inside one
Kustomization, so `waves` puts each wave in its own folder (with the `kustomization.yaml`
kustomize and Flux read) and `--flux` adds one Flux `Kustomization` per wave, each depending on
the previous one with `wait: true`: Flux applies wave n+1 only once every object of wave n is
healthy, the same order Argo CD follows.

    DIR/kustomization.yaml          (every wave folder, for `kubectl kustomize DIR`)
    DIR/wave-0/kustomization.yaml   DIR/wave-0/<objects>.yaml
    DIR/wave-1/...
    DIR/flux/kustomization.yaml     DIR/flux/waves.yaml   (with --flux)
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rbgc.bundle import Bundle
from rbgc.emit import file_name, flat_files, to_yaml

FLUX_API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
KUSTOMIZE_API_VERSION = "kustomize.config.k8s.io/v1beta1"


class Layout(enum.StrEnum):
    FLAT = "flat"
    WAVES = "waves"


@dataclass(frozen=True, slots=True, kw_only=True)
class Flux:
    """Where Flux finds the rendered folder: `path` inside the source `source` (a GitRepository)."""

    path: str  # the output folder relative to the repository root, e.g. `rendered/prod`
    name: str  # Kustomizations are named `{name}-wave-{n}`
    source: str = "flux-system"
    namespace: str = "flux-system"
    interval: str = "10m"
    timeout: str = "30m"  # build + apply + health; model servers take minutes to get ready


def wave_folder(wave: int) -> str:
    return f"wave-{wave}" if wave >= 0 else f"wave-minus-{-wave}"


def files(bundle: Bundle, layout: Layout, flux: Flux | None = None) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every file the layout writes, rendered one at a time: a large
    bundle is never held as text all at once."""
    if layout is Layout.FLAT:
        yield from flat_files(bundle)
        return
    waves: dict[int, list[str]] = {}
    for m in bundle.manifests:
        name = file_name(m)
        waves.setdefault(m.wave, []).append(name)
        yield f"{wave_folder(m.wave)}/{name}", to_yaml(m.body)
    for wave, names in waves.items():
        yield f"{wave_folder(wave)}/kustomization.yaml", _kustomization(names)
    # `kubectl kustomize DIR` (and an Argo CD or Flux source pointed at DIR) reads every wave
    yield "kustomization.yaml", _kustomization([wave_folder(w) for w in sorted(waves)])
    if flux is not None:
        yield "flux/kustomization.yaml", _kustomization(["waves.yaml"])
        yield "flux/waves.yaml", flux_stream(sorted(waves), flux)


def _kustomization(resources: list[str]) -> str:
    return to_yaml(
        {
            "apiVersion": KUSTOMIZE_API_VERSION,
            "kind": "Kustomization",
            "resources": resources,
        }
    )


def flux_stream(waves: list[int], flux: Flux) -> str:
    """One Flux Kustomization per wave, each waiting for the one before it."""
    docs = []
    previous: str | None = None
    for wave in waves:
        name = f"{flux.name}-{wave_folder(wave)}"
        spec: dict[str, Any] = {
            "interval": flux.interval,
            "path": f"./{flux.path.strip('/')}/{wave_folder(wave)}",
            "prune": True,
            "wait": True,
            "timeout": flux.timeout,
            "sourceRef": {"kind": "GitRepository", "name": flux.source},
        }
        if previous is not None:
            spec["dependsOn"] = [{"name": previous}]
        docs.append(
            to_yaml(
                {
                    "apiVersion": FLUX_API_VERSION,
                    "kind": "Kustomization",
                    "metadata": {"name": name, "namespace": flux.namespace},
                    "spec": spec,
                }
            )
        )
        previous = name
    return "---\n".join(docs)
