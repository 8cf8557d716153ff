"""The registry's tag grammar: parse(format(x)) == x (Hypothesis), and the same answers as gto's own
parser and name rule (gto.constants, gto.tag) on the same strings."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitrun.errors import InvalidNameError
from gitrun.registry import grammar
from gitrun.registry.grammar import Action, SemVer, Shortcut, TagName

SETTINGS = settings(max_examples=300, deadline=None)

_alnum = st.sampled_from("abcXYZ019")
_middle = st.text(alphabet="abcXYZ019-_/", max_size=8)
NAMES = st.one_of(
    _alnum,
    st.builds(lambda a, m, b: a + m + b, _alnum, _middle, _alnum),
)
DIRS = st.text(alphabet="abz09-_./", min_size=1, max_size=8)
FULL_NAMES = st.one_of(NAMES, st.builds(lambda d, n: f"{d}:{n}", DIRS, NAMES))
_ident = st.one_of(
    st.integers(0, 99).map(str), st.text(alphabet="abc-XY", min_size=1, max_size=4).filter(lambda s: not s.isdigit())
)
_dotted = st.lists(_ident, min_size=1, max_size=3).map(".".join)
_build = st.lists(st.text(alphabet="abc09-", min_size=1, max_size=4), min_size=1, max_size=2).map(".".join)
VERSIONS = st.builds(
    SemVer,
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 30),
    st.one_of(st.none(), _dotted),
    st.one_of(st.none(), _build),
)
COUNTERS = st.one_of(st.none(), st.integers(0, 10**6))


@st.composite
def tag_names(draw: st.DrawFn) -> TagName:
    name = draw(FULL_NAMES)
    action = draw(st.sampled_from(list(Action)))
    counter = draw(COUNTERS)
    if action in (Action.REGISTER, Action.DEREGISTER):
        return TagName(name, action, version=str(draw(VERSIONS)), counter=counter)
    if action in (Action.ASSIGN, Action.UNASSIGN):
        return TagName(name, action, stage=draw(NAMES), counter=counter)
    return TagName(name, action, counter=counter)


@SETTINGS
@given(tag_names())
def test_a_tag_name_parses_back_to_itself(tag: TagName) -> None:
    assert grammar.parse_tag(grammar.format_tag(tag)) == tag


@SETTINGS
@given(tag_names())
def test_gto_parses_every_tag_gitrun_writes_the_same_way(tag: TagName) -> None:
    from gto.constants import Action as GtoAction
    from gto.tag import parse_name

    parsed = parse_name(grammar.format_tag(tag))
    actions = {
        Action.REGISTER: GtoAction.REGISTER,
        Action.DEREGISTER: GtoAction.DEREGISTER,
        Action.ASSIGN: GtoAction.ASSIGN,
        Action.UNASSIGN: GtoAction.UNASSIGN,
        Action.DEPRECATE: GtoAction.DEPRECATE,
    }
    assert parsed["name"] == tag.name
    assert parsed["action"] == actions[tag.action]
    assert parsed.get("version") == tag.version
    assert parsed.get("stage") == tag.stage
    assert parsed.get("counter") == tag.counter


_noise = st.text(alphabet="ab1-_/.:=#@!v0", max_size=16)
# strings near the grammar too: real tags with a character added, dropped or swapped somewhere
TAGLIKE = st.one_of(
    _noise,
    st.builds(
        lambda tag, i, c, how: (tag[:i] + c + tag[i:], tag[:i] + tag[i + 1 :], tag[:i] + c + tag[i + 1 :])[how],
        tag_names().map(grammar.format_tag),
        st.integers(0, 30),
        st.sampled_from("#@!=:.v0a-/ "),
        st.integers(0, 2),
    ),
)


@SETTINGS
@given(TAGLIKE)
def test_any_string_is_a_registry_tag_for_gitrun_exactly_when_it_is_one_for_gto(text: str) -> None:
    from gto.tag import parse_name

    gto = parse_name(text, raise_on_fail=False)
    ours = grammar.parse_tag(text)
    assert (ours is not None) == bool(gto), text
    if ours is not None:
        assert ours.name == gto["name"] and ours.counter == gto.get("counter")


@SETTINGS
@given(st.text(alphabet="aZ09-_/.: é", max_size=10))
def test_the_name_rule_is_gtos(text: str) -> None:
    from gto.constants import check_string_is_valid, fullname_re, name_re

    assert grammar.is_valid_name(text) == check_string_is_valid(text, regex=fullname_re), text
    assert bool(re.match(f"^{grammar.NAME_PATTERN}$", text)) == check_string_is_valid(text, regex=name_re), text


@SETTINGS
@given(VERSIONS)
def test_a_version_parses_back_to_itself(version: SemVer) -> None:
    assert SemVer.parse(str(version)) == version


@SETTINGS
@given(VERSIONS, VERSIONS)
def test_versions_order_as_semver_orders_them(a: SemVer, b: SemVer) -> None:
    import semver

    theirs = semver.Version.parse(str(a)[1:]).compare(str(b)[1:])
    if theirs != 0:  # equal precedence (build metadata aside): gitrun orders by the build as well
        assert (a < b) == (theirs < 0)


def test_versions_are_gtos_v_prefixed_semver() -> None:
    for bad in ("1.0.0", "v3", "v1.0", "v01.0.0", "V1.0.0"):
        with pytest.raises(InvalidNameError, match="a version is 'v' and a full semantic version"):
            SemVer.parse(bad)
    assert str(SemVer.parse("v1.0.0-rc.1+b5")) == "v1.0.0-rc.1+b5"
    assert SemVer.parse("v1.0.0-rc.1") < SemVer.parse("v1.0.0") < SemVer.parse("v1.0.1")
    assert str(SemVer.parse("v0.1.2").bump()) == "v0.1.3"
    assert str(SemVer.parse("v0.1.2").bump("minor")) == "v0.2.0"
    assert str(SemVer.parse("v0.1.2-rc.1").bump("major")) == "v1.0.0"


def test_the_tag_forms_are_gtos() -> None:
    fmt = grammar.format_tag
    assert fmt(TagName("churn", Action.REGISTER, version="v0.1.0")) == "churn@v0.1.0"
    assert fmt(TagName("churn", Action.DEREGISTER, version="v0.1.0")) == "churn@v0.1.0!"
    assert fmt(TagName("churn", Action.ASSIGN, stage="prod", counter=3)) == "churn#prod#3"
    assert fmt(TagName("churn", Action.UNASSIGN, stage="dev", counter=4)) == "churn#dev!#4"
    assert fmt(TagName("nlp:sentiment", Action.DEPRECATE)) == "nlp=sentiment@deprecated"
    assert (
        fmt(TagName("dir/sub:my_model", Action.REGISTER, version="v1.0.0-rc.1+b5")) == "dir/sub=my_model@v1.0.0-rc.1+b5"
    )
    assert grammar.parse_tag("v1.0.0") is None  # a release tag of the project is not a registry event
    assert grammar.parse_tag("churn@v1.0") is None


def test_invalid_names_are_refused_quoting_the_rule() -> None:
    for bad in ("m.pkl", "-churn", "churn-", "wine model", "a:b:c", ""):
        with pytest.raises(InvalidNameError, match="only letters, digits, '-', '_' and '/'"):
            grammar.validate_name(bad)
    with pytest.raises(InvalidNameError, match="invalid stage 'pro d'"):
        grammar.validate_stage("pro d")


def test_mlflow_names_outside_the_rule_get_a_valid_slug() -> None:
    assert grammar.slug("wine model") == "wine-model"
    assert grammar.slug("  Fraud  (v2)!") == "Fraud-v2"
    assert grammar.slug("churn") == "churn"
    assert grammar.is_valid_name(grammar.slug("a.b.c"))
    with pytest.raises(InvalidNameError, match="no letter or digit"):
        grammar.slug("!!!")


def test_shortcuts() -> None:
    parse = grammar.parse_shortcut
    assert parse("churn#prod") == Shortcut("churn", stage="prod")
    assert parse("churn@v1.2.0") == Shortcut("churn", version="v1.2.0")
    assert parse("churn@latest") == Shortcut("churn", latest=True) == parse("churn@greatest")
    assert parse("churn") == Shortcut("churn", latest=True)
    assert parse("nlp:sentiment#staging") == Shortcut("nlp:sentiment", stage="staging")
    assert parse("model.pkl") is None and parse("runs:/x/y") is None


MESSAGES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=80
).filter(lambda m: m.strip() and not m.strip().startswith("-----BEGIN"))
TRAILERS = st.dictionaries(
    st.sampled_from(["run_id", "path", "version", "intent"]), st.text(max_size=30) | st.integers(), max_size=4
)


@SETTINGS
@given(MESSAGES, TRAILERS)
def test_a_message_and_its_trailer_parse_back(message: str, trailer: dict[str, object]) -> None:
    text = grammar.format_message(message, trailer)
    assert grammar.parse_message(text) == (message.strip(), trailer)


def test_the_trailer_is_one_line_gto_shows_as_part_of_the_message() -> None:
    text = grammar.format_message("better AUC", {"run_id": "01J", "path": "a b/model"})
    assert text == 'better AUC\n\nGitrun-Registry: {"path":"a b/model","run_id":"01J"}\n'
    assert grammar.parse_message("written by gto") == ("written by gto", {})


def test_gtos_default_messages() -> None:
    assert grammar.default_message(Action.REGISTER, "churn", "v0.0.1") == "Registering artifact churn version v0.0.1"
    assert (
        grammar.default_message(Action.ASSIGN, "churn", "v0.0.1", "prod")
        == "Assigning stage prod to artifact churn version v0.0.1"
    )
    assert grammar.default_message(Action.DEPRECATE, "nlp:s") == "Deprecating artifact 'nlp:s'"
