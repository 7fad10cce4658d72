"""Whole ads in the new, old and JSON forms: detection, printing, round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyflock.classad import ClassAd, ClassAdSyntaxError, parse
from skyflock.classad.forms import detect_form, parse_json_ads
from skyflock.classad.values import ERROR, UNDEFINED

FORMS = ("new", "old", "json")

HAND_ADS = [
    "[]",
    '[ a = 1; b = "x"; c = 1.5; d = true; e = undefined; f = error ]',
    '[ s = "quote \\" backslash \\\\ newline \\n tab \\t bell \\007 unicode é" ]',
    '[ s = "/Expr(not an expression)/"; t = "\\\\/Expr(x)\\\\/" ]',
    "[ l = { 1, { 2, { 3 } }, {}, [ a = 1 ] }; n = [ x = [ y = { true } ]; e = [] ] ]",
    "[ Requirements = TARGET.Memory >= MY.RequestMemory && (x ?: 1) > 0; Rank = -TARGET.Mips ]",
    "[ neg = -5; negr = -2.5; big = 9223372036854775807; small = -9223372036854775808 ]",
    '[ inf = real("INF"); minf = -real("INF"); e = 1e300; tiny = 5e-324 ]',
    "[ 'odd name' = 1; 'true' = 2; CamelCase = camelcase + 1 ]",
    '[ f = strcat("a", string(1 / 2)); g = ifThenElse(a, {1}, [b = 2]) ]',
]


@pytest.mark.parametrize("text", HAND_ADS)
@pytest.mark.parametrize("form", FORMS)
def test_hand_ads_round_trip(text: str, form: str) -> None:
    ad = ClassAd.parse(text)
    printed = ad.format(form)  # type: ignore[arg-type]
    assert detect_form(printed) == form or (form == "new" and len(ad) == 0)
    again = ClassAd.parse(printed)
    assert again == ad
    assert again.same_spelling(ad)
    assert again.format(form) == printed  # type: ignore[arg-type]


def test_json_is_htcondor_mapping() -> None:
    ad = ClassAd.parse(
        '[ a = 1; b = "x"; c = x + 1; d = {1, y}; e = [f = 1]; u = undefined; r = error; t = true ]'
    )
    data = json.loads(ad.format("json"))
    assert data == {
        "a": 1,
        "b": "x",
        "c": "/Expr(x + 1)/",
        "d": [1, "/Expr(y)/"],
        "e": {"f": 1},
        "u": None,
        "r": "/Expr(error)/",
        "t": True,
    }
    assert '"\\/Expr(x + 1)\\/"' in ad.format("json")


def test_json_plain_string_that_looks_like_an_expression_stays_a_string() -> None:
    ad = ClassAd.parse('{"a": "/Expr(x + 1)/", "b": "\\/Expr(x + 1)\\/"}')
    assert ad.eval("a") == "/Expr(x + 1)/"
    assert ad.lookup("b") == parse("x + 1")


def test_json_reads_what_htcondor_prints() -> None:
    classad2 = pytest.importorskip("classad2")
    text = '[ a = 1; b = "x\\"y"; c = x + 1; d = {1, "s", y}; e = [f = 1; g = h]; u = undefined; r = error; re = 1.5; big = 1e100; n = -3 ]'
    theirs = classad2.ClassAd(text).printJson()
    assert ClassAd.parse(theirs) == ClassAd.parse(text).__class__.parse(
        ClassAd.parse(text).format("json")
    )
    ours = ClassAd.parse(theirs)
    assert ours.eval("b") == 'x"y'
    assert ours.lookup("c") == parse("x + 1")
    assert ours.eval("u") is UNDEFINED and ours.eval("r") is ERROR
    assert ours.eval("big") == 1e100
    # and HTCondor reads ours
    back = classad2.parseOne(ours.format("json"), classad2.ParserType.JSON)
    assert str(back.lookup("c")) == "x + 1"


def test_old_form_reads_condor_q_output() -> None:
    text = 'MyType = "Job"\nClusterId = 12\n\n# comment\nRequirements = (TARGET.Arch == "X86_64") && (TARGET.Memory >= RequestMemory)\nArgs = "a b"\n'
    ad = ClassAd.parse(text)
    assert ad.eval("clusterid") == 12
    assert ad.name_of("clusterid") == "ClusterId"
    assert ad.format("old").splitlines()[1] == "ClusterId = 12"


def test_json_list_of_ads() -> None:
    ads = parse_json_ads('[{"a": 1}, {"b": "\\/Expr(a)\\/"}]')
    assert [len(a) for a in ads] == [1, 1]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("[ a = 1; b = ]", 1, 14),
        ("a = 1\nb = 2 +\n", 2, 8),
        ("a = 1\n  = 2\n", 2, 3),
        ("Name: value\n", 1, 1),
        ('{"a": 1,}', 1, 9),
        ('{"a": "\\/Expr(1 +)\\/"}', 1, 18),
        ('{"a" 1}', 1, 6),
        ('{"a": tru}', 1, 7),
        ("[ a = 1 ] extra", 1, 11),
    ],
)
def test_malformed_ads(text: str, line: int, column: int) -> None:
    with pytest.raises(ClassAdSyntaxError) as info:
        ClassAd.parse(text)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)


# Characters `str.splitlines` breaks lines on besides "\n". The old form ends
# lines at "\n" only, as HTCondor does, so these may stand in a string.
LINE_BREAKS = ["\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r\n"]


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[repr(b) for b in LINE_BREAKS])
@pytest.mark.parametrize("form", FORMS)
def test_line_break_characters_in_strings_round_trip(brk: str, form: str) -> None:
    ad = ClassAd({"s": f"a{brk}b", "t": [f"{brk}x"], "u": parse(f'strcat("{brk}", x)'), "v": 2})
    printed = ad.format(form)  # type: ignore[arg-type]
    again = ClassAd.parse(printed)
    assert again == ad
    assert again.eval("s") == f"a{brk}b"
    assert again.eval("v") == 2


@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029", "\v", "\f", "\x1c"])
def test_old_form_lines_end_at_newline_only_as_in_htcondor(brk: str) -> None:
    classad2 = pytest.importorskip("classad2")
    text = f'A = "x{brk}y"\nB = 2\r\n'
    ours = ClassAd.parse(text)
    theirs = classad2.parseOne(text, classad2.ParserType.Old)
    assert ours.eval("a") == theirs["A"] == f"x{brk}y"
    assert ours.eval("b") == theirs["B"] == 2
    if ord(brk) >= 0x80:
        # HTCondor reads what we print (control characters we print as octal
        # escapes, which HTCondor's old form keeps as written).
        back = classad2.parseOne(ours.format("old"), classad2.ParserType.Old)
        assert back["A"] == f"x{brk}y"


def test_old_form_error_position_counts_newlines_only() -> None:
    with pytest.raises(ClassAdSyntaxError) as info:
        ClassAd.parse('a = "x\u2028y"\nb = 1 +\n')
    assert (info.value.line, info.value.column) == (2, 8)
    assert info.value.excerpt == "b = 1 +\n       ^"


def test_old_form_quoted_names_unescape_like_the_lexer() -> None:
    ad = ClassAd({"odd\tname'": 1})
    assert ClassAd.parse(ad.format("old")).name_of("odd\tname'") == "odd\tname'"


# -- generated ads -----------------------------------------------------------------
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n.lower() not in {"true", "false", "undefined", "error", "is", "isnt"}
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=True),
    st.text(max_size=12),
    # Strings made mostly of characters that need care in each form.
    st.text(
        alphabet=st.sampled_from("".join(LINE_BREAKS) + '\n\t"\\\x00\x7f/é'), min_size=1, max_size=6
    ),
    st.just(UNDEFINED),
    st.just(ERROR),
)
exprs = st.sampled_from(
    ["x + 1", "TARGET.Memory >= MY.RequestMemory", "a ?: b", "{1, y}[0]", 'strcat("a", b)', "-x"]
).map(parse)
values = st.recursive(
    st.one_of(scalars, exprs),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(names, inner, max_size=3).map(ClassAd),
    ),
    max_leaves=8,
)
ads = st.dictionaries(names, values, max_size=6).map(ClassAd)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(ad=ads, form=st.sampled_from(FORMS))
def test_generated_ads_round_trip(ad: ClassAd, form: str) -> None:
    again = ClassAd.parse(ad.format(form))  # type: ignore[arg-type]
    assert again == ad
    assert ClassAd.parse(again.format(form)) == again  # type: ignore[arg-type]
