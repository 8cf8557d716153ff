"""``gitrun models``: predict with a model, show what a model is, and the registry's commands
(``gitrun.cli.registry``: register, promote, demote, deregister, deprecate, list, history)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from gitrun.cli._common import console, echo_json, print_table, rev_option
from gitrun.cli.registry import registry_commands

if TYPE_CHECKING:
    from gitrun.models.info import ModelSummary

URI_FORMS = (
    "runs:/RUN_ID/NAME (a unique prefix of the ID works), models:/m-<id>, a model folder, a file: URI, "
    "or a registered version: models:/NAME/N, models:/NAME@STAGE, NAME#STAGE, NAME@vX.Y.Z"
)


@click.group(
    epilog="Examples:\n\n\b\n  gitrun models show runs:/01JD5Z3F/model\n  gitrun models predict -m runs:/01JD5Z3F/model -i input.json\n"
    "  gitrun models register churn --run 01JD5Z3F\n  gitrun models promote churn v0.0.1 prod\n  gitrun models list"
)
def models() -> None:
    """Use and inspect models (MLflow's MLmodel format), and register them (tags in GTO's grammar)."""


for _command in registry_commands():
    models.add_command(_command)


_PREDICT_EPILOG = """Examples:

\b
  gitrun models predict -m runs:/01JD5Z3F/model -i input.json
  gitrun models predict -m runs:/01JD5Z3F/model --rev main~3 -i rows.csv -t csv -o out.json
  echo '{"dataframe_split": {"columns": ["x"], "data": [[1.5]]}}' | gitrun models predict -m models:/m-3f2a...

The JSON input is what MLflow's scoring server takes: exactly one of dataframe_split,
dataframe_records, instances or inputs, and optionally params. The output is {"predictions": ...}.
"""


@models.command("predict", epilog=_PREDICT_EPILOG)
@click.option("-m", "--model-uri", required=True, metavar="URI", help=f"The model: {URI_FORMS}.")
@click.option(
    "-i",
    "--input-path",
    type=click.Path(dir_okay=False, exists=True),
    help="JSON, CSV or Parquet input file (default: stdin).",
)
@click.option("--input-data", help="The input itself, as a string (instead of --input-path).")
@click.option(
    "-o", "--output-path", type=click.Path(dir_okay=False), help="Write the predictions here (default: stdout)."
)
@click.option("-t", "--content-type", type=click.Choice(["json", "csv", "parquet"]), default="json", show_default=True)
@click.option(
    "--env-manager", type=click.Choice(["local"]), default="local", help="Run in this environment (the only one)."
)
@click.option(
    "--trust-type",
    "trusted",
    multiple=True,
    metavar="TYPE",
    help="Trust this type when loading a skops file (repeatable).",
)
@click.option(
    "--safe",
    is_flag=True,
    default=None,
    help="Refuse formats whose loading runs code (pickle, cloudpickle, code paths).",
)
@rev_option
def predict(
    model_uri: str,
    input_path: str | None,
    input_data: str | None,
    output_path: str | None,
    content_type: str,
    env_manager: str,
    trusted: tuple[str, ...],
    safe: bool | None,
    rev: str | None,
) -> None:
    """Predict with a model on a JSON, CSV or Parquet input, in this Python environment (as `mlflow models predict`)."""
    from gitrun.models.payload import predict_payload

    if input_path is not None and input_data is not None:
        raise click.UsageError("give --input-path or --input-data, not both")
    if input_data is not None:
        raw: str | bytes = input_data
    elif input_path is not None:
        with open(input_path, "rb") as f:
            raw = f.read()
    else:
        raw = sys.stdin.buffer.read()
    out = predict_payload(model_uri, raw, content_type, rev=rev, skops_trusted_types=trusted, safe=safe or None)
    if output_path is None:
        click.echo(out)
    else:
        with open(output_path, "w", encoding="utf-8") as f:
            f.write(out)


@models.command(
    "show",
    epilog="Examples:\n\n\b\n  gitrun models show runs:/01JD5Z3F/model\n  gitrun models show models:/m-3f2a... --rev v1.2 --json\n"
    "  gitrun models show churn#prod\n  gitrun models show churn   # a registered name: its latest version",
)
@click.argument("model_uri", metavar="URI")
@rev_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def show(ctx: click.Context, model_uri: str, rev: str | None, as_json: bool) -> None:
    """Show a model: flavors, signature, requirements, size, lineage (run, commit) and how to use it.

    URI is runs:/RUN_ID/NAME, models:/m-<id>, a model folder or a file: URI, or a registered
    version (models:/NAME/N, models:/NAME@STAGE, NAME#STAGE, NAME@vX.Y.Z, or a registered NAME:
    its latest version), which adds the registry's view; an existing path wins over a name."""
    from gitrun.cli._common import get_store
    from gitrun.models.info import model_summary

    summary = model_summary(model_uri, rev=rev, store=get_store(ctx))
    if as_json:
        echo_json(summary.to_json())
        return
    print_summary(summary)


def print_summary(summary: ModelSummary, title: str | None = None, brief: bool = False) -> None:
    """The tables of one model (``brief``, for `gitrun runs show`: without requirements and files)."""
    from rich.markup import escape

    from gitrun.formatting import format_size

    out = console()
    out.print(f"[bold]{escape(title or 'Model ' + summary.uri)}[/bold]")
    facts: list[tuple[str, Any]] = [
        ("flavors", ", ".join(summary.flavors)),
        ("loader module", summary.loader_module or ""),
        ("serialization", summary.serialization_format or ""),
        ("predict function", summary.predict_fn or ""),
        ("size", format_size(summary.size_bytes) if summary.size_bytes is not None else ""),
        ("model id", summary.model_id or ""),
        ("run", summary.run_id or ""),
        ("read at commit", summary.commit or "the work tree"),
        ("code commit", summary.code_commit or ""),
        ("created (UTC)", summary.created),
    ]
    if summary.registered_model_name:
        facts.append(("to register as", summary.registered_model_name))
    print_table(["field", "value"], [(k, v) for k, v in facts if v != ""])
    if summary.registered:
        print_registered(summary.registered)
    for label, rows in (("Inputs", summary.inputs), ("Outputs", summary.outputs)):
        if rows:
            print_table(
                ["name", "type", "required"],
                [(r.name or "(unnamed)", r.type, "yes" if r.required else "no") for r in rows],
                title=label,
            )
    if summary.params:
        print_table(["param", "type", "default"], [(r.name, r.type, r.default) for r in summary.params], title="Params")
    if not summary.inputs and not summary.outputs:
        out.print("No signature: predict checks nothing about its input.")
    if summary.requirements and not brief:
        print_table(["requirement"], [(r,) for r in summary.requirements], title="Requirements")
    if not brief:
        files = [
            (f.path, format_size(f.size) if f.size is not None else "", "DVC" if f.in_dvc else "Git")
            for f in summary.files
        ]
        print_table(["file", "size", "stored in"], files, title="Files")
    if summary.input_example:
        example = summary.input_example if len(summary.input_example) <= 400 else summary.input_example[:400] + " ..."
        out.print("[bold]Input example[/bold] (input_example.json)")
        out.print(escape(example), soft_wrap=True)
    if summary.commands:
        print_table(["to", "command"], list(summary.commands), title="Use it")


def print_registered(view: Any) -> None:
    """The registry's part of `gitrun models show` (``ModelSummary.registered``)."""
    facts = [
        ("registered as", f"{view['name']} {view['version']} (MLflow version {view['number']})"),
        ("stages", ", ".join(view["stages"]) or "-"),
        ("tag", view["tag"] or "-"),
        ("registered by", view["author"] or "-"),
    ]
    print_table(["registry", ""], facts, title="Registry")
    print_table(
        ["version", "number", "stages", "active", "commit"],
        [
            (
                v["version"],
                v["number"] or "-",
                ", ".join(v["stages"]) or "-",
                "yes" if v["active"] else "no",
                v["commit"][:10],
            )
            for v in view["versions"]
        ],
        title=f"Versions of {view['name']}",
    )
