"""One error hierarchy for the whole library: every exception and warning gitrun raises is defined here.

Every error carries a message that says what went wrong *and* what to do about it. The CLI maps
:class:`GitrunError` to one red line and its ``exit_code`` (1; 2 for a malformed ``--check``; see
``gitrun.cli._common``); nothing here imports click. tests/test_errors.py checks that no module
of gitrun defines an exception or warning class of its own.
"""

from __future__ import annotations

from gitrun.redact import redact_credentials


class GitrunError(Exception):
    """Base class of every error gitrun raises on purpose; ``gitrun.exceptions.MlflowException`` is this class.

    ``error_code`` is MLflow's name for the kind of error (``RESOURCE_DOES_NOT_EXIST``...), so
    code written for MLflow that inspects it (``if e.error_code == "RESOURCE_ALREADY_EXISTS"``)
    works; ``message`` and ``get_http_status_code()`` are MLflow's too."""

    exit_code = 1
    error_code = "INTERNAL_ERROR"

    def __init__(self, *args: object, error_code: int | str | None = None, **kwargs: object) -> None:
        """As MLflow's ``MlflowException(message, error_code=RESOURCE_DOES_NOT_EXIST, **json_kwargs)``:
        the code (MLflow's number from ``databricks_pb2``, or its name) replaces the class's (an
        unknown one reads ``INTERNAL_ERROR``, as in MLflow); the keyword arguments are kept as
        ``json_kwargs``."""
        if error_code is None and len(args) == 2 and isinstance(args[1], int | str):
            error_code = args[1]  # MlflowException(message, INVALID_PARAMETER_VALUE)
            args = args[:1]
        super().__init__(*args)
        if error_code is not None:
            name = ERROR_NUMBERS.get(error_code) if isinstance(error_code, int) else error_code
            self.error_code = name if name in HTTP_STATUS else "INTERNAL_ERROR"
        self.json_kwargs = kwargs

    @property
    def message(self) -> str:
        return str(self)

    def get_http_status_code(self) -> int:
        """The HTTP status MLflow's server answers for this ``error_code``."""
        return HTTP_STATUS.get(self.error_code, 500)

    @classmethod
    def invalid_parameter_value(cls, message: str) -> InvalidInputError:
        """MLflow's constructor of an ``INVALID_PARAMETER_VALUE`` error."""
        return InvalidInputError(message)


# MLflow's error codes (mlflow.protos.databricks_pb2) and the HTTP status its server gives each
HTTP_STATUS = {
    "INTERNAL_ERROR": 500,
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "INVALID_STATE": 500,  # as MLflow (not 400)
    "RESOURCE_DOES_NOT_EXIST": 404,
    "RESOURCE_ALREADY_EXISTS": 400,
    "NOT_IMPLEMENTED": 501,
}
# their numbers in MLflow's protobuf enum (``mlflow.protos.databricks_pb2.ErrorCode``)
ERROR_NUMBERS = {
    1: "INTERNAL_ERROR",
    4: "BAD_REQUEST",
    1000: "INVALID_PARAMETER_VALUE",
    1003: "INVALID_STATE",
    1010: "NOT_IMPLEMENTED",
    3001: "RESOURCE_ALREADY_EXISTS",
    3002: "RESOURCE_DOES_NOT_EXIST",
}


class InvalidInputError(GitrunError, ValueError):
    """A key, value or argument the user passed is not acceptable."""

    error_code = "INVALID_PARAMETER_VALUE"


class AlreadyExistsError(InvalidInputError):
    """Creating something that exists already (an experiment of that name, a run of that ID)."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class NotSupportedError(GitrunError):
    """An MLflow feature gitrun does not provide (GenAI tracing...); the message says what to use."""

    error_code = "NOT_IMPLEMENTED"


class FilterSyntaxError(InvalidInputError):
    """A search filter or order_by clause that does not parse; the message points at the position.

    ``str(error)`` is the reason, then the filter with a caret under ``position`` (0-based)."""

    def __init__(self, reason: str, source: str, position: int, what: str = "filter"):
        self.reason = reason
        self.source = source
        self.position = position
        self.what = what
        super().__init__(f"invalid {what}: {reason}\n{self.excerpt(source, position)}")

    def __reduce__(self) -> tuple[type, tuple[str, str, int, str]]:
        return type(self), (self.reason, self.source, self.position, self.what)

    @staticmethod
    def excerpt(source: str, position: int, width: int = 100) -> str:
        """Two lines: ``source`` (a window of it when long; line breaks shown as spaces), a caret under ``position``."""
        text = source.replace("\n", " ").replace("\r", " ").replace("\t", " ")
        start = 0
        if len(text) > width:
            start = max(0, min(position - width // 2, len(text) - width))
        prefix = "..." if start > 0 else ""
        suffix = "..." if start + width < len(text) else ""
        return f"  {prefix}{text[start : start + width]}{suffix}\n  {' ' * (len(prefix) + position - start)}^"


class CheckSyntaxError(FilterSyntaxError):
    """A ``gitrun diff --check`` expression that does not parse, or names a metric no run logs
    (exit status 2). It shares the filter grammar's tokens and its caret excerpt."""

    exit_code = 2

    def __init__(self, reason: str, source: str, position: int, what: str = "check"):
        super().__init__(reason, source, position, what)


class AmbiguousRunIdError(InvalidInputError):
    """A run-ID prefix that more than one run starts with."""


class RunNotFoundError(GitrunError, LookupError):
    """No run with the given ID in the store."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class ExperimentNotFoundError(GitrunError, LookupError):
    """No experiment with the given name or ID in the store."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class StoreFormatError(GitrunError):
    """A store or file cannot be read: newer format, or corrupt content (in strict mode)."""


class RunStateError(GitrunError):
    """The operation does not fit the run's state (deleted run, run already active...)."""

    error_code = "INVALID_PARAMETER_VALUE"  # MLflow's code for writing to a deleted run


class StoreWriteError(GitrunError):
    """A file of the store could not be written; what was already on disk is intact."""


class DiskFullError(StoreWriteError):
    """The disk (or quota) is full: nothing was replaced, nothing torn was left behind."""


class ReadOnlyStoreError(StoreWriteError):
    """The store is on a read-only file system (or not writable by this user)."""


def last_lines(text: str, count: int = 8) -> str:
    """The last ``count`` non-blank lines of ``text`` on one line, joined by " / " (Git's stderr, a
    hook's output), so an error stays one line however much a tool printed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-count:])


class GitCommandError(GitrunError):
    """A ``git`` command failed: the command, its exit status and the last lines of its stderr.

    Arguments and stderr are kept with credentials removed (Git quotes remote URLs, query tokens
    included, in its errors); ``summary`` is those last lines on one line."""

    STDERR_LINES = 8

    def __init__(self, args: list[str], returncode: int, stderr: str):
        self.command = redact_credentials("git " + " ".join(args))
        self.returncode = returncode
        self.stderr = redact_credentials(stderr)
        self.summary = last_lines(self.stderr, self.STDERR_LINES)
        tail = f": {self.summary}" if self.summary else ""
        super().__init__(f"{self.command} failed (exit status {returncode}){tail}")

    def __reduce__(self) -> tuple[type, tuple[list[str], int, str]]:
        return type(self), (self.command.split()[1:], self.returncode, self.stderr)


class NotAGitRepositoryError(GitrunError):
    """The path is not inside a Git work tree."""


class CommitRefused(GitrunError):
    """Git's state makes committing unsafe (merge in progress, detached HEAD...)."""


class DvcError(GitrunError):
    """A DVC operation failed; DVC's message is kept with credentials removed (it may quote a remote URL)."""

    def __init__(self, message: str):
        super().__init__(redact_credentials(message))


class GitHubError(GitrunError):
    """The GitHub API refused or failed a request."""


class MissingExtraError(GitrunError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names the extra.

    Raised by :func:`gitrun.extras.require`, which knows which extra brings which module."""

    def __init__(self, feature: str, extra: str, package: str, module: str, hint: str = ""):
        self.feature, self.extra, self.package, self.module, self.hint = feature, extra, package, module, hint
        super().__init__(
            f"{feature} needs {package}, which is not installed (no module {module!r}): "
            f"pip install 'gitrun-ml[{extra}]'{hint}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str, str]]:
        return type(self), (self.feature, self.extra, self.package, self.module, self.hint)


class DvcNotInstalledError(MissingExtraError):
    """DVC (the ``dvc`` extra) is needed and missing."""


class ExportUnavailable(MissingExtraError):
    """Charts as SVG/PNG need vl-convert (the ``site`` extra); the Markdown report is complete without them."""


class PluginError(GitrunError):
    """A plugin failed in a way that cannot be reduced to a warning."""


class ExecutionException(GitrunError):
    """A project or command could not be run, or its run failed (MLflow's ``ExecutionException``)."""


class EnvironmentBuildError(ExecutionException):
    """A Python environment for a project or a model could not be built; pip's last lines say why."""


# -- models (gitrun.models) ------------------------------------------------------------------
class SchemaEnforcementError(InvalidInputError):
    """Input data or params that do not fit the model's signature."""

    error_code = "INVALID_PARAMETER_VALUE"  # MLflow's code (the scoring server answers 400)
    error_class = "SCHEMA_ENFORCEMENT_FAILED"


class UnknownFlavorError(GitrunError):
    """No installed flavor can load (or save) what was asked."""


class ModelFormatError(GitrunError):
    """A model directory or MLmodel file that cannot be read."""


class PayloadError(InvalidInputError):
    """A prediction input that is not valid JSON, CSV, or not in the scoring protocol's shape."""

    error_code = "BAD_REQUEST"


class UnsafeModelError(GitrunError):
    """Loading the model would run code the caller did not agree to run."""


class SignatureError(InvalidInputError):
    """A signature (or a schema, a spec) that cannot be built or read."""


class ModelNotFoundError(GitrunError, LookupError):
    """A model URI that names nothing (no such run, model, path or revision)."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


# -- serving (gitrun.serve) ------------------------------------------------------------------
class UnsupportedContentTypeError(InvalidInputError):
    """A prediction input whose content type or charset the scoring protocol does not take (HTTP 415)."""


class ServeError(GitrunError):
    """The scoring server cannot start as asked: a missing extra, a port in use, a model that does not load."""


# -- the model registry (gitrun.registry) -----------------------------------------------------------
class RegistryError(GitrunError):
    """A registry operation that cannot be done as asked; the message says what to do instead."""


class InvalidNameError(RegistryError, InvalidInputError):
    """A model name, stage or version that GTO's tag grammar does not accept (the message quotes the rule)."""


class ModelNotRegisteredError(RegistryError, ModelNotFoundError):
    """No registered model of that name (the message lists the registered ones)."""


class ModelVersionNotFoundError(RegistryError, LookupError):
    """The model has no such version, or no version in that stage."""


class StageNotAllowedError(RegistryError, InvalidInputError):
    """A stage outside the allow-list of ``.gto`` or ``[tool.gitrun.registry]``."""


class TagSignatureError(RegistryError):
    """An event could not be signed, or a protected stage needs a tag signed by a trusted key."""


class StoreWarning(UserWarning):
    """A file of the store could not be read completely; the rest of the store still reads."""


class TrackingUriWarning(UserWarning):
    """A tracking URI that names no local directory (a server, a database): runs go to the Git store."""


class CodeDiffWarning(UserWarning):
    """Files were left out of a run's ``code.diff`` because they may hold secrets."""
