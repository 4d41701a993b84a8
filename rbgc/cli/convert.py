"""`rbgc convert`: v1alpha1 manifests as v1alpha2 (or back), comments and order kept."""

from __future__ import annotations

import os
import sys

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import output_options
from rbgc.cli.output import ExitCode, Output, guarded


@click.command("convert", short_help=COMMANDS["convert"][1])
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--to",
    "version",
    type=click.Choice(["v1alpha2", "v1alpha1"]),
    default="v1alpha2",
    show_default=True,
    help="The API version to write.",
)
@click.option("-w", "--write", is_flag=True, help="Rewrite the files in place (else: stdout).")
@output_options
@guarded
def command(paths: tuple[str, ...], version: str, write: bool, out: Output) -> None:
    """Rewrite RoleBasedGroup manifests from workloads.x-k8s.io/v1alpha1 to v1alpha2 (or back).

    The conversion is upstream's own (its conversion webhook, v0.8): `workload` becomes the
    rbg.workloads.x-k8s.io/role-workload-type annotation, `template` / `leaderWorkerSet` /
    `components` become standalonePattern / leaderWorkerPattern / customComponentsPattern,
    RoleBasedGroupSet `template` becomes `groupTemplate.spec`, and podGroupPolicy and
    coordination move to conversion.workloads.x-k8s.io/* annotations that keep them for the
    way back. Comments, key order and quoting are kept; documents that are not converted
    (other kinds, or already in the target version) are copied byte for byte.

    Whatever upstream's conversion drops or changes is a warning at its line. --to v1alpha1
    refuses documents that use what v1alpha1 cannot hold (sharedServiceSelection, restart
    backoff, podManagementPolicy, ...), so converting back never loses anything silently.

    \b
    Examples:
      rbgc convert examples/pd-disaggregated.yaml          v1alpha2 on stdout
      rbgc convert --write manifests/                      every *.yaml below, in place
      rbgc convert --to v1alpha1 new.yaml > old.yaml       back, where nothing is lost
      diff -u old.yaml <(rbgc convert old.yaml)            review before --write

    \b
    Exit codes: 0 converted (or nothing to convert), 1 invalid input (nothing is written),
    2 usage error, 3 internal error.
    """
    if write and "-" in paths:
        raise click.UsageError("--write cannot rewrite standard input; drop --write or the '-'")
    from rbgc.convert.rewrite import convert_paths
    from rbgc.diagnostics import DiagnosticError

    try:
        results = convert_paths(paths, version)
    except DiagnosticError as exc:
        # RBG901: a converted document fails the target schema, a bug in rbgc (exit 3)
        bug = any(d.code == "RBG901" for d in exc.diagnostics)
        out.fail(exc.diagnostics, ExitCode.INTERNAL if bug else ExitCode.INVALID)
    out.report([d for r in results for d in r.diagnostics])
    if write:
        for result in results:
            if result.changed:
                _replace_file(result.path, result.text)
                sys.stderr.write(
                    f"rbgc: {result.path}: {result.converted} document(s) now {version}\n"
                )
        if not any(r.changed for r in results) and out.fmt == "text":
            sys.stderr.write(f"rbgc: nothing to convert to {version}\n")
        return
    for i, result in enumerate(results):
        text = result.text
        if i and not text.lstrip().startswith("---"):
            sys.stdout.write("---\n")
        sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")


def _replace_file(path: str, text: str) -> None:
    """Write `text` over `path` atomically, keeping the file's permissions."""
    import tempfile

    folder = os.path.dirname(path) or "."
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rbgc-convert-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
