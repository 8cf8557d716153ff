"""The filter grammar: MLflow's ``search_runs`` language plus ``OR``, ``NOT`` and parentheses.

A hand-written tokenizer and recursive-descent parser turn a filter string into a tree of frozen
dataclasses (:class:`Comparison`, :class:`And`, :class:`Or`, :class:`Not`);
:func:`format_filter` writes a tree back as canonical text, and ``parse(format(x)) == x``.
Parse errors are :class:`~gitrun.errors.FilterSyntaxError`, whose message shows the filter with
a caret under the offending position. Nothing here reads runs: see ``gitrun.search.evaluate``.

Grammar (keywords are case-insensitive; NOT binds tighter than AND, AND tighter than OR)::

    filter     := or_expr EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" or_expr ")" | comparison
    comparison := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | field ["NOT"] ("LIKE" | "ILIKE") string
                | field ["NOT"] "IN" "(" value ("," value)* ")"
                | field "IS" ["NOT"] "NULL"
    field      := [prefix "."] key          e.g. metrics.acc, params.`learning rate`, status
    value      := string | number           'text' or "text" ('' doubles a quote), -1.5e3
    order_by   := field ["ASC" | "DESC"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gitrun.errors import FilterSyntaxError

__all__ = [
    "And",
    "Comparison",
    "Expr",
    "Field",
    "Not",
    "Or",
    "OrderBy",
    "Schema",
    "EXPERIMENT_SCHEMA",
    "RUN_SCHEMA",
    "Token",
    "format_filter",
    "format_order_by",
    "parse_filter",
    "parse_order_by",
    "resolve_field",
    "tokenize",
]

Value = str | int | float

METRIC, PARAM, TAG, ATTRIBUTE = "metric", "param", "tag", "attribute"
DATASET = "dataset"  # datasets.name / .digest / .context: true when any of the run's dataset inputs matches
DATASET_KEYS = frozenset({"name", "digest", "context"})  # MLflow's

COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")
PATTERN_OPS = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
LIST_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})


# -- the tree --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """What a comparison reads: ``kind`` is metric, param, tag or attribute; ``key`` its name."""

    kind: str
    key: str


@dataclass(frozen=True)
class Comparison:
    """``field op value``. ``value`` is a str, int or float; a tuple of them for IN; None for IS NULL."""

    field: Field
    op: str
    value: Value | tuple[Value, ...] | None = None


@dataclass(frozen=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    term: Expr


Expr = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    field: Field
    ascending: bool = True


@dataclass(frozen=True)
class Schema:
    """What a search may name: prefixes, attributes (with aliases) and which attributes are numeric."""

    prefixes: dict[str, str]
    attributes: frozenset[str]
    numeric_attributes: frozenset[str]
    aliases: dict[str, str]
    what: str = "run"

    def __hash__(self) -> int:  # schemas are module constants; identity is enough for caching
        return id(self)


RUN_SCHEMA = Schema(
    prefixes={
        "metric": METRIC,
        "metrics": METRIC,
        "param": PARAM,
        "params": PARAM,
        "parameter": PARAM,
        "parameters": PARAM,
        "tag": TAG,
        "tags": TAG,
        "attribute": ATTRIBUTE,
        "attributes": ATTRIBUTE,
        "attr": ATTRIBUTE,
        "run": ATTRIBUTE,
        "dataset": DATASET,
        "datasets": DATASET,
    },
    attributes=frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"}),
    numeric_attributes=frozenset({"start_time", "end_time"}),
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
)

EXPERIMENT_SCHEMA = Schema(
    prefixes={"tag": TAG, "tags": TAG, "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE},
    attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    aliases={},
    what="experiment",
)

_PREFIX_OF_KIND = {METRIC: "metrics", PARAM: "params", TAG: "tags", ATTRIBUTE: "attributes", DATASET: "datasets"}


# -- tokens ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """One token of a filter (or of a ``--check`` expression, see :func:`tokenize`)."""

    kind: str  # "path" "string" "number" "op" "(" ")" "," "keyword" "end"; "arith" with arithmetic=True
    text: str  # source text
    pos: int
    value: object = None  # path: tuple of (segment, quote); string: str; number: int/float; keyword: upper name


_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BARE_RE = re.compile(r"[\w\-/:]+")
_WORD_RE = re.compile(r"\w+")  # a name's first segment in arithmetic: ``base-1`` is base minus 1
_WS = " \t\r\n"


def _error(source: str, pos: int, message: str) -> FilterSyntaxError:
    return FilterSyntaxError(message, source, pos)


def _read_quoted(source: str, pos: int) -> tuple[str, int]:
    """The text of a quoted token starting at ``pos`` (a doubled quote stands for one) and the end."""
    quote = source[pos]
    out = []
    i = pos + 1
    while True:
        j = source.find(quote, i)
        if j < 0:
            name = {"'": "string", '"': "quoted name or string", "`": "quoted name"}[quote]
            raise _error(source, pos, f"unterminated {name}: add the closing {quote}")
        out.append(source[i:j])
        if source.startswith(quote, j + 1):
            out.append(quote)
            i = j + 2
            continue
        return "".join(out), j + 1


def tokenize(source: str, *, arithmetic: bool = False) -> list[Token]:
    """The tokens of ``source``, ending with an "end" token; a :class:`FilterSyntaxError` at the
    first character that starts none.

    ``arithmetic=True`` is the dialect of ``gitrun diff --check`` (:mod:`gitrun.compare.gate`):
    ``+ - *`` are "arith" tokens, so numbers carry no sign and a name's first segment is letters,
    digits and ``_`` only (``base-0.1`` reads as ``base - 0.1``; ``metrics.val-acc`` stays a name).
    """
    tokens: list[Token] = []
    first = _WORD_RE if arithmetic else _BARE_RE
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in _WS:
            i += 1
            continue
        if c in "(),":
            tokens.append(Token(c, c, i))
            i += 1
            continue
        if arithmetic and c in "+-*":
            tokens.append(Token("arith", c, i))
            i += 1
            continue
        if c in "<>!=":
            two = source[i : i + 2]
            if two in ("<=", ">=", "!="):
                tokens.append(Token("op", two, i))
                i += 2
            elif c == "!":
                raise _error(source, i, "unexpected '!': did you mean '!='?")
            elif two == "==":
                raise _error(source, i, "use '=' for equality, not '=='")
            elif two == "<>":
                raise _error(source, i, "use '!=' for inequality, not '<>'")
            else:
                tokens.append(Token("op", c, i))
                i += 1
            continue
        if c == "'":
            text, end = _read_quoted(source, i)
            tokens.append(Token("string", source[i:end], i, text))
            i = end
            continue
        number = _NUMBER_RE.match(source, i) if (c.isdigit() or c in "+-.") else None
        if number and number.end() > i and not (c in "+-." and number.group() in "+-."):
            end = number.end()
            if end < n and (first.match(source, end) or source[end] in "'\"`."):
                raise _error(
                    source, i, f"cannot read {source[i : end + 1]!r}: a number must be followed by a space, ')' or ','"
                )
            text = number.group()
            value: int | float = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
            tokens.append(Token("number", text, i, value))
            i = end
            continue
        if c in '`"' or first.match(source, i):
            start = i
            segments: list[tuple[str, str]] = []
            while True:
                if i < n and source[i] in '`"':
                    quote = source[i]
                    text, i = _read_quoted(source, i)
                    segments.append((text, quote))
                else:
                    bare = (_BARE_RE if segments else first).match(source, i)
                    if not bare:
                        where = source[start:i]
                        raise _error(source, i, f"expected a name after {where!r}")
                    segments.append((bare.group(), ""))
                    i = bare.end()
                if i < n and source[i] == ".":
                    i += 1
                    continue
                break
            text = source[start:i]
            if len(segments) == 1 and not segments[0][1] and segments[0][0].upper() in KEYWORDS:
                tokens.append(Token("keyword", text, start, segments[0][0].upper()))
            else:
                tokens.append(Token("path", text, start, tuple(segments)))
            continue
        raise _error(source, i, f"unexpected character {c!r}")
    tokens.append(Token("end", "", n))
    return tokens


# -- parser ----------------------------------------------------------------------------------
class _Parser:
    def __init__(self, source: str, schema: Schema):
        self.source = source
        self.schema = schema
        self.tokens = tokenize(source)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> FilterSyntaxError:
        return _error(self.source, (token or self.tok).pos, message)

    def describe(self, token: Token) -> str:
        return "the end of the filter" if token.kind == "end" else repr(token.text)

    def keyword(self, *names: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in names

    def take_keyword(self, name: str) -> None:
        if not self.keyword(name):
            raise self.error(f"expected {name}, found {self.describe(self.tok)}")
        self.i += 1

    # expressions
    def parse_or(self) -> Expr:
        terms = [self.parse_and()]
        while self.keyword("OR"):
            self.i += 1
            terms.append(self.parse_and())
        return _flatten(Or, terms)

    def parse_and(self) -> Expr:
        terms = [self.parse_not()]
        while self.keyword("AND"):
            self.i += 1
            terms.append(self.parse_not())
        return _flatten(And, terms)

    def parse_not(self) -> Expr:
        if self.keyword("NOT"):
            self.i += 1
            return Not(self.parse_not())
        if self.tok.kind == "(":
            opening = self.tok
            self.i += 1
            if self.tok.kind == ")":
                raise self.error("empty parentheses: put a condition inside")
            inner = self.parse_or()
            if self.tok.kind != ")":
                if self.tok.kind == "end":
                    raise self.error("unclosed '(': add ')'", opening)
                raise self.error(f"expected ')' or AND/OR, found {self.describe(self.tok)}")
            self.i += 1
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Comparison:
        field_token = self.tok
        field = self.parse_field()
        op_token = self.tok
        if op_token.kind == "op":
            self.i += 1
            value_token = self.tok
            value = self.parse_value()
            return self.check(Comparison(field, op_token.text, value), op_token, value_token)
        if self.keyword("IS"):
            self.i += 1
            negated = self.keyword("NOT")
            if negated:
                self.i += 1
            self.take_keyword("NULL")
            return Comparison(field, "IS NOT NULL" if negated else "IS NULL", None)
        negated = self.keyword("NOT")
        if negated:
            self.i += 1
            if not self.keyword("IN", "LIKE", "ILIKE"):
                raise self.error(f"expected IN, LIKE or ILIKE after NOT, found {self.describe(self.tok)}")
        if self.keyword("LIKE", "ILIKE"):
            name = str(self.tok.value)
            self.i += 1
            value_token = self.tok
            value = self.parse_value()
            op = f"NOT {name}" if negated else name
            return self.check(Comparison(field, op, value), op_token, value_token)
        if self.keyword("IN"):
            self.i += 1
            value_token = self.tok
            values = self.parse_list()
            return self.check(Comparison(field, "NOT IN" if negated else "IN", values), op_token, value_token)
        if op_token.kind == "end":
            numeric = field.kind == METRIC or field.key in self.schema.numeric_attributes
            example = f"{field_token.text} > 0" if numeric else f"{field_token.text} = 'value'"
            raise self.error(f"expected a comparison after {field_token.text!r}, e.g. {example}")
        raise self.error(
            f"expected a comparison operator (= != < <= > >= LIKE ILIKE IN IS), found {self.describe(op_token)}"
        )

    def parse_field(self) -> Field:
        token = self.tok
        if token.kind != "path":
            if token.kind == "end":
                raise self.error("expected a field name, e.g. metrics.acc")
            if token.kind == "keyword":
                raise self.error(f"expected a field name, found the keyword {token.text}")
            raise self.error(f"expected a field name such as metrics.acc or params.lr, found {self.describe(token)}")
        self.i += 1
        return resolve_field(token, self.source, self.schema)

    def parse_value(self) -> Value:
        token = self.tok
        segments: tuple[tuple[str, str], ...] = token.value if token.kind == "path" else ()  # type: ignore[assignment]
        if token.kind == "string":
            self.i += 1
            return str(token.value)
        if len(segments) == 1 and segments[0][1] == '"':  # "text" is a string here, as in MLflow
            self.i += 1
            return segments[0][0]
        if token.kind == "number":
            self.i += 1
            return token.value  # type: ignore[return-value]
        if token.kind == "end":
            raise self.error("expected a value: a 'quoted string' or a number")
        if token.kind == "path":
            text = ".".join(t for t, _ in segments)
            raise self.error(f"expected a value, found {token.text!r}: put text in single quotes, e.g. '{text}'")
        raise self.error(f"expected a value: a 'quoted string' or a number, found {self.describe(token)}")

    def parse_list(self) -> tuple[Value, ...]:
        if self.tok.kind != "(":
            raise self.error(f"expected '(' to start the list after IN, found {self.describe(self.tok)}")
        self.i += 1
        if self.tok.kind == ")":
            raise self.error("empty list: IN needs at least one value")
        values = [self.parse_value()]
        while self.tok.kind == ",":
            self.i += 1
            values.append(self.parse_value())
        if self.tok.kind != ")":
            raise self.error(f"expected ',' or ')' in the list, found {self.describe(self.tok)}")
        self.i += 1
        return tuple(values)

    def check(self, comparison: Comparison, op_token: Token, value_token: Token) -> Comparison:
        """Type rules: metrics and numeric attributes take numbers; LIKE takes text."""
        field, op, value = comparison.field, comparison.op, comparison.value
        values = value if isinstance(value, tuple) else (value,)
        numeric = field.kind == METRIC or (field.kind == ATTRIBUTE and field.key in self.schema.numeric_attributes)
        label = f"{_PREFIX_OF_KIND[field.kind]}.{field.key}" if field.kind != ATTRIBUTE else field.key
        if op in PATTERN_OPS:
            if numeric:
                raise self.error(
                    f"{op} matches text, but {label} is a number; compare it with = != < <= > >=", op_token
                )
            if not isinstance(value, str):
                raise self.error(f"{op} needs a 'quoted pattern' (% matches any text, _ one character)", value_token)
        elif numeric:
            if any(isinstance(v, str) for v in values):
                raise self.error(f"{label} is a number: compare it with a number, without quotes", value_token)
        elif field.kind in (ATTRIBUTE, DATASET) and any(not isinstance(v, str) for v in values):
            raise self.error(f"{field.kind} {label} is text: put the value in single quotes", value_token)
        if field.kind == DATASET and op in NULL_OPS:
            raise self.error(f"{label} IS NULL is not supported (as in MLflow); compare it with a value", op_token)
        return comparison


def resolve_field(token: Token, source: str, schema: Schema) -> Field:
    """A :class:`Field` from a name token: prefix (case-insensitive) and key, aliases resolved."""
    segments: tuple[tuple[str, str], ...] = token.value  # type: ignore[assignment]
    if len(segments) == 1:
        kind, key = ATTRIBUTE, segments[0][0]
    else:
        prefix = segments[0][0]
        found = schema.prefixes.get(prefix.lower())
        if found is None:
            names = sorted({f"{_PREFIX_OF_KIND[k]}." for k in schema.prefixes.values()})
            raise _error(source, token.pos, f"unknown prefix {prefix!r}: use one of {', '.join(names)}")
        kind, key = found, ".".join(text for text, _ in segments[1:])
    if not key:
        raise _error(source, token.pos, "empty name: put the key after the prefix, e.g. metrics.acc")
    if kind == DATASET and key not in DATASET_KEYS:
        raise _error(
            source, token.pos, f"unknown dataset field {key!r}; use datasets.name, datasets.digest or datasets.context"
        )
    if kind == ATTRIBUTE:
        key = schema.aliases.get(key, key)
        if key not in schema.attributes:
            hint = ""
            if len(segments) == 1 and schema is RUN_SCHEMA:
                hint = f" (for a metric, param or tag write metrics.{key}, params.{key} or tags.{key})"
            raise _error(
                source,
                token.pos,
                f"unknown {schema.what} attribute {key!r}; attributes are {', '.join(sorted(schema.attributes))}{hint}",
            )
    return Field(kind, key)


def _flatten(cls: type[And] | type[Or], terms: list[Expr]) -> Expr:
    if len(terms) == 1:
        return terms[0]
    flat: list[Expr] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, cls) else (term,))
    return cls(tuple(flat))


@lru_cache(maxsize=256)
def _parse_cached(source: str, schema: Schema) -> Expr | None:
    if not source.strip():
        return None
    parser = _Parser(source, schema)
    expr = parser.parse_or()
    if parser.tok.kind != "end":
        token = parser.tok
        if token.kind == ")":
            raise parser.error("unmatched ')'")
        raise parser.error(f"expected AND, OR or the end of the filter, found {parser.describe(token)}")
    return expr


def parse_filter(source: str | None, schema: Schema = RUN_SCHEMA) -> Expr | None:
    """Parse a filter string; None for an empty one (every run matches)."""
    return _parse_cached(source or "", schema)


@lru_cache(maxsize=256)
def _parse_order_cached(source: str, schema: Schema) -> OrderBy:
    try:
        parser = _Parser(source, schema)
        field = parser.parse_field()
        if field.kind == DATASET:
            raise parser.error("runs cannot be ordered by datasets (as in MLflow); filter on them instead")
        ascending = True
        if parser.keyword("ASC", "DESC"):
            ascending = parser.tok.value == "ASC"
            parser.i += 1
        if parser.tok.kind != "end":
            raise parser.error(f"expected ASC, DESC or the end of the clause, found {parser.describe(parser.tok)}")
    except FilterSyntaxError as exc:
        raise FilterSyntaxError(exc.reason, exc.source, exc.position, what="order_by clause") from None
    return OrderBy(field, ascending)


def parse_order_by(source: str, schema: Schema = RUN_SCHEMA) -> OrderBy:
    """Parse one ``order_by`` clause: ``"<field> [ASC|DESC]"`` (ascending by default)."""
    return _parse_order_cached(source, schema)


# -- formatting ------------------------------------------------------------------------------
_PLAIN_KEY = re.compile(r"[\w\-/:]+(?:\.[\w\-/:]+)*")


def format_field(field: Field) -> str:
    if field.kind == ATTRIBUTE:
        return field.key
    key = field.key if _PLAIN_KEY.fullmatch(field.key) else _backtick(field.key)
    return f"{_PREFIX_OF_KIND[field.kind]}.{key}"


def _backtick(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


def format_value(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _format(expr: Expr, parent: int) -> str:
    # precedence: OR 1, AND 2, NOT 3, comparison 4; parenthesize when weaker than the context
    if isinstance(expr, Comparison):
        left = format_field(expr.field)
        if expr.op in NULL_OPS:
            return f"{left} {expr.op}"
        if isinstance(expr.value, tuple):
            return f"{left} {expr.op} ({', '.join(format_value(v) for v in expr.value)})"
        assert expr.value is not None
        return f"{left} {expr.op} {format_value(expr.value)}"
    if isinstance(expr, Not):
        text, level = "NOT " + _format(expr.term, 3), 3
    elif isinstance(expr, And):
        text, level = " AND ".join(_format(t, 2) for t in expr.terms), 2
    else:
        text, level = " OR ".join(_format(t, 1) for t in expr.terms), 1
    return f"({text})" if level < parent else text


def format_filter(expr: Expr | None) -> str:
    """Canonical text of a filter tree (``parse_filter(format_filter(x)) == x``)."""
    if expr is None:
        return ""
    return _format(expr, 0)


def format_order_by(order: OrderBy) -> str:
    return f"{format_field(order.field)} {'ASC' if order.ascending else 'DESC'}"
