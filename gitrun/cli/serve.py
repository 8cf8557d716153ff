"""``gitrun serve URI``: a scoring server speaking MLflow's protocol (docs/serving.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from gitrun.cli._common import get_store

if TYPE_CHECKING:
    from gitrun.serve.served import ServedModel

_EPILOG = """Examples:

\b
  gitrun serve runs:/01JD5Z3F/model
  gitrun serve churn#prod --watch --port 8080 --workers 2
  gitrun serve models:/m-3f2a... --rev v1.2 --env-manager venv
  curl -s localhost:5000/invocations -H 'Content-Type: application/json' \\
       -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'

Routes as MLflow's scoring server: GET /ping, /health, /version; POST /invocations (JSON with
dataframe_split, dataframe_records, instances or inputs, and params; CSV; Parquet). Plus GET
/metadata: what is served. SIGTERM drains the requests in flight and exits 0.
"""


@click.command(epilog=_EPILOG)
@click.argument("model_uri", metavar="URI")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("-p", "--port", type=int, default=5000, show_default=True, help="Port (0 picks a free one).")
@click.option("-w", "--workers", type=int, default=1, show_default=True, help="Worker processes (forked).")
@click.option("-t", "--timeout", type=float, default=60.0, show_default=True, help="Seconds a request may take (504).")
@click.option("--max-body", default="10MiB", show_default=True, metavar="SIZE", help="Largest request body (413).")
@click.option("--rev", metavar="REV", help="Serve the model as committed at REV (branch, tag, SHA).")
@click.option("--watch", is_flag=True, help="Follow the URI: serve the new version when the repository's tags change.")
@click.option("--fetch", is_flag=True, help="With --watch: `git fetch --tags` every --fetch-interval seconds.")
@click.option("--watch-interval", type=float, default=2.0, show_default=True, help="Seconds between looks at the refs.")
@click.option("--fetch-interval", type=float, default=60.0, show_default=True, help="Seconds between fetches.")
@click.option(
    "--env-manager",
    type=click.Choice(["local", "venv", "virtualenv"]),
    default="local",
    show_default=True,
    help="local: this environment; venv (virtualenv): one built from the model's python_env.yaml, cached.",
)
@click.option("--trust-type", "trusted", multiple=True, metavar="TYPE", help="Trust this type in a skops file.")
@click.option("--safe", is_flag=True, default=None, help="Refuse formats whose loading runs code (pickle...).")
@click.option("--debug", is_flag=True, help="Log every request; error bodies carry the stack trace.")
@click.pass_context
def serve(
    ctx: click.Context,
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    timeout: float,
    max_body: str,
    rev: str | None,
    watch: bool,
    fetch: bool,
    watch_interval: float,
    fetch_interval: float,
    env_manager: str,
    trusted: tuple[str, ...],
    safe: bool | None,
    debug: bool,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol.

    URI is runs:/RUN_ID/NAME, models:/m-<id>, a model folder, a file: URI, or a registry URI
    (NAME#STAGE, models:/NAME@ALIAS) once the registry is there."""
    import logging

    from gitrun.formatting import parse_size
    from gitrun.serve.options import ServeOptions
    from gitrun.serve.server import serve as run_server

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("gitrun serve: %(message)s"))
    for name in ("gitrun", "uvicorn"):  # uvicorn's access log (with --debug) and its errors
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("gitrun").setLevel(logging.DEBUG if debug else logging.INFO)
    options = ServeOptions(
        uri=model_uri,
        host=host,
        port=port,
        workers=workers,
        timeout=timeout,
        max_body=parse_size(max_body),
        rev=rev,
        watch=watch,
        fetch=fetch,
        watch_interval=watch_interval,
        fetch_interval=fetch_interval,
        env_manager=env_manager,
        debug=debug,
        tracking_uri=(ctx.find_root().obj or {}).get("tracking_uri"),
        trusted_types=trusted,
        safe=safe or None,
    )

    def ready(url: str, served: ServedModel) -> None:
        click.echo(f"Serving {model_uri} (version {served.version}) at {url} (Ctrl+C stops)")
        click.echo(f"  curl -s {url}/invocations -H 'Content-Type: application/json' -d @input.json")
        sys.stdout.flush()

    run_server(options, get_store(ctx), on_ready=ready, argv=sys.argv[1:])
    click.echo("Stopped.")
