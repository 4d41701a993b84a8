"""`rbgc post-render`: a Helm post-renderer, `rbgc build -` with the release namespace."""

from __future__ import annotations

import click

from rbgc.cli import COMMANDS
from rbgc.cli.build import compiled, write_stream
from rbgc.cli.options import CompileOptions, Option, output_of
from rbgc.cli.output import guarded


@click.command("post-render", short_help=COMMANDS["post-render"][1])
@click.option(
    "-n",
    "--namespace",
    cls=Option,
    metavar="NS",
    envvar="HELM_NAMESPACE",
    help="The release namespace, for groups without metadata.namespace [env: HELM_NAMESPACE].",
)
@guarded
def command(namespace: str | None) -> None:
    """Helm post-renderer: rendered manifests on stdin, compiled manifests on stdout.

    Same as `rbgc build -` with the release namespace (and warnings named in $RBGC_IGNORE
    accepted). Helm 3:
    `helm install NAME CHART --post-renderer rbgc --post-renderer-args post-render`;
    Helm 4: install integrations/helm as a plugin and pass `--post-renderer rbgc`.

    \b
    Exit codes: 0 compiled, 1 invalid input (nothing on stdout, so Helm stops the release),
    2 usage error, 3 internal error.
    """
    opts = CompileOptions(
        namespace=namespace,
        kubernetes_version=None,
        root=None,
        lws="native",
        conventions=None,
        scheduler="default",
        out=output_of("text", "auto", ()),
    )
    write_stream(compiled(("-",), opts), "yaml")
