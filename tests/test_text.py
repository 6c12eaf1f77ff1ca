"""GSM-7 / UCS-2 decisions and part splitting, checked against the independent gsm0338 codec."""

from __future__ import annotations

import gsm0338  # noqa: F401  (importing registers the "gsm03.38" codec)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_sms.text import GSM_BASIC, GSM_EXTENSION, analyze, is_gsm7, smart_replace

CODEC = "gsm03.38"
ESC = "\x1b"


def codec_septets(text: str) -> int | None:
    """Septets the gsm0338 codec needs for ``text``, or None if it cannot encode it.

    The codec writes one byte per septet (an extension character is ESC 0x1B + char, 2 bytes),
    so the byte length is the septet count. Two documented exceptions are applied first:

    * ``ç``: the README says accept it as GSM basic (0x09 is ``Ç`` in the standard, ``ç`` in many
      implementations). The codec only knows ``Ç``, so ``ç`` is counted as ``Ç`` (one septet).
    * ESC (U+001B): the codec encodes it as the raw 0x1B septet, but 0x1B is the escape code,
      not a character: sent in a text it would turn the next character into an extension one.
      The README does not list it, so it is not GSM here.
    """
    if ESC in text:
        return None
    try:
        return len(text.replace("ç", "Ç").encode(CODEC))
    except UnicodeEncodeError:
        return None


# --- the GSM-7 decision against the codec ------------------------------------------------------


def test_every_bmp_character_matches_the_codec() -> None:
    mismatches = []
    for code_point in range(0x10000):
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        expected = codec_septets(char)
        info = analyze(char)
        got = info.units if info.encoding == "gsm7" else None
        if got != expected or is_gsm7(char) != (expected is not None):
            mismatches.append((hex(code_point), expected, info.encoding, info.units))
    assert mismatches == []


GSM_CHARS = sorted(GSM_BASIC)
EXTENSION_CHARS = sorted(GSM_EXTENSION)
NON_GSM_CHARS = ["’", "“", "—", "…", "\u00a0", "я", "中", "ß̈", "`", "\t", ESC, "😀", "𝄞", "ç"]

any_char = st.one_of(
    st.sampled_from(GSM_CHARS),
    st.sampled_from(EXTENSION_CHARS),
    st.sampled_from(NON_GSM_CHARS),
    st.characters(codec="utf-8"),
)
gsm_char = st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(EXTENSION_CHARS))


def _runs(chars: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts made of runs of repeated characters, so they reach multi-part lengths (0-720
    characters) with wide and narrow characters landing on every part boundary."""
    return st.lists(st.tuples(chars, st.integers(1, 60)), max_size=12).map(
        lambda runs: "".join(char * count for char, count in runs)
    )


texts = _runs(any_char)
gsm_texts = _runs(gsm_char)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _unit_cost(text: str, encoding: str) -> int:
    if encoding == "gsm7":
        septets = codec_septets(text)
        assert septets is not None
        return septets
    return _utf16_units(text)


def _check_split(text: str) -> None:
    info = analyze(text)
    expected_septets = codec_septets(text)
    assert is_gsm7(text) == (expected_septets is not None)
    if expected_septets is not None:
        assert info.encoding == "gsm7"
        assert info.units == expected_septets
        assert info.unicode_chars == ()
    else:
        assert info.encoding == "ucs2"
        assert info.units == _utf16_units(text)
        assert info.unicode_chars
        assert all(text[i] == c and not is_gsm7(c) for i, c in info.unicode_chars)

    assert "".join(info.segments) == text
    assert info.parts == len(info.segments)
    assert all(info.segments)
    sizes = [_unit_cost(s, info.encoding) for s in info.segments]
    assert sum(sizes) == info.units
    assert all(size <= info.per_part_limit for size in sizes)
    # Each full part is as full as it can be: its next character would not have fitted.
    for segment, size, following in zip(info.segments, sizes, info.segments[1:], strict=False):
        assert size + _unit_cost(following[0], info.encoding) > info.per_part_limit, segment


@settings(max_examples=300, deadline=None)
@given(texts)
def test_random_texts_match_the_codec_and_split_exactly(text: str) -> None:
    _check_split(text)


@settings(max_examples=300, deadline=None)
@given(gsm_texts)
def test_random_gsm_texts_match_the_codec_and_split_exactly(text: str) -> None:
    _check_split(text)


# --- hand-written boundaries -------------------------------------------------------------------


def test_160_gsm_chars_fit_in_one_part() -> None:
    info = analyze("a" * 160)
    assert (info.encoding, info.units, info.parts, info.per_part_limit) == ("gsm7", 160, 1, 160)


def test_161_gsm_chars_need_two_parts() -> None:
    info = analyze("a" * 161)
    assert info.parts == 2
    assert info.per_part_limit == 153
    assert info.segments == ("a" * 153, "a" * 8)


def test_306_gsm_chars_fill_two_parts() -> None:
    assert analyze("a" * 306).parts == 2


def test_307_gsm_chars_need_three_parts() -> None:
    assert analyze("a" * 307).parts == 3


def test_extension_char_costs_two_septets() -> None:
    assert analyze("€" * 80).units == 160
    assert analyze("€" * 80).parts == 1
    assert analyze("€" * 81).parts == 2


def test_escape_pair_at_septet_153_moves_to_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 20
    info = analyze(text)
    assert info.segments == ("a" * 152, "€" + "b" * 20)


def test_escape_pair_straddle_can_add_a_part() -> None:
    # 306 septets would fill 153 + 153, but the pair at septets 153-154 moves whole into the
    # second part, which then overflows by one septet into a third.
    text = "a" * 152 + "^" + "a" * 152
    info = analyze(text)
    assert info.units == 306
    assert info.parts == 3


def test_70_ucs2_units_fit_in_one_part() -> None:
    info = analyze("я" * 70)
    assert (info.encoding, info.units, info.parts, info.per_part_limit) == ("ucs2", 70, 1, 70)


def test_71_ucs2_units_need_two_parts() -> None:
    info = analyze("я" * 71)
    assert info.parts == 2
    assert info.per_part_limit == 67
    assert info.segments == ("я" * 67, "я" * 4)


def test_134_ucs2_units_fill_two_parts() -> None:
    assert analyze("я" * 134).parts == 2


def test_135_ucs2_units_need_three_parts() -> None:
    assert analyze("я" * 135).parts == 3


def test_emoji_counts_two_units() -> None:
    info = analyze("😀" * 35)
    assert (info.encoding, info.units, info.parts) == ("ucs2", 70, 1)


def test_emoji_at_unit_67_is_not_split() -> None:
    text = "я" * 66 + "😀" + "я" * 10
    info = analyze(text)
    assert info.segments == ("я" * 66, "😀" + "я" * 10)


def test_one_non_gsm_char_makes_the_whole_text_ucs2() -> None:
    info = analyze("Hello ’ world")
    assert info.is_unicode
    assert info.unicode_chars == ((6, "’"),)


def test_lowercase_c_cedilla_is_gsm() -> None:
    # README: 0x09 is Ç in the standard, ç in many implementations; accept both.
    assert is_gsm7("ç")
    assert analyze("Ça va, garçon?").encoding == "gsm7"


def test_empty_text_has_no_parts() -> None:
    info = analyze("")
    assert (info.encoding, info.units, info.parts, info.segments) == ("gsm7", 0, 0, ())


# --- explain() ---------------------------------------------------------------------------------


def test_explain_names_the_character_its_position_and_the_cost() -> None:
    text = "x" * 13 + "’" + "y" * 136
    assert analyze(text).explain() == (
        "The ’ at position 14 makes this message Unicode: 3 parts instead of 1."
    )


def test_explain_counts_the_other_unicode_characters() -> None:
    text = "“Done” — thanks" + "." * 140
    assert analyze(text).explain() == (
        "The “ at position 1 and 2 other characters make this message Unicode: "
        "3 parts instead of 1."
    )


def test_explain_names_invisible_characters_by_code_point() -> None:
    assert analyze("a\u00a0b").explain().startswith("The U+00A0 NO-BREAK SPACE at position 2 ")


def test_explain_says_when_the_part_count_is_unchanged() -> None:
    assert analyze("Hi ’").explain() == (
        "The ’ at position 4 makes this message Unicode: it still fits in 1 part, "
        "but each part holds 70 characters instead of 160."
    )


def test_explain_is_empty_for_gsm7() -> None:
    assert analyze("Plain text {with} € signs").explain() == ""


# --- ISO-8859-1 (8-bit), where the provider's gateway carries it --------------------------------


def test_latin1_text_stays_ucs2_unless_the_gateway_carries_latin1() -> None:
    assert analyze("Zoë belt terug").encoding == "ucs2"


def test_latin1_text_goes_8_bit_where_the_gateway_carries_it() -> None:
    info = analyze("Zoë belt terug", latin1=True)

    assert (info.encoding, info.units, info.parts) == ("latin1", 14, 1)
    assert info.unicode_chars == ((2, "ë"),)


def test_gsm_text_stays_gsm7_where_the_gateway_carries_latin1() -> None:
    assert analyze("Zoe belt terug é", latin1=True).encoding == "gsm7"


@pytest.mark.parametrize("text", ["Zoë ’s avonds", "Zoë betaalt €5", "Zoë 😀"])
def test_text_outside_latin1_is_ucs2_even_where_the_gateway_carries_latin1(text: str) -> None:
    assert analyze(text, latin1=True).encoding == "ucs2"


@pytest.mark.parametrize(
    ("length", "parts", "sizes"),
    [(140, 1, [140]), (141, 2, [134, 7]), (268, 2, [134, 134]), (269, 3, [134, 134, 1])],
)
def test_latin1_parts_hold_140_octets_alone_and_134_when_concatenated(
    length: int, parts: int, sizes: list[int]
) -> None:
    info = analyze("ë" * length, latin1=True)

    assert (info.units, info.parts) == (length, parts)
    assert [len(segment) for segment in info.segments] == sizes
    assert info.per_part_limit == (140 if parts == 1 else 134)


def test_explain_names_the_character_that_made_the_text_8_bit() -> None:
    assert analyze("Zoë " + "x" * 150, latin1=True).explain() == (
        "The ë at position 3 makes this message ISO-8859-1 (8-bit): 2 parts instead of 1."
    )


# --- smart_replace() ---------------------------------------------------------------------------


def test_smart_replace_swaps_apostrophe_and_dash_and_reports_them() -> None:
    new, changes = smart_replace("We’ll call you — soon. It’s fixed.")
    assert new == "We'll call you - soon. It's fixed."
    assert changes == [("’", "'"), ("—", "-")]
    assert is_gsm7(new)


def test_smart_replace_expands_ellipsis_and_non_breaking_space() -> None:
    new, changes = smart_replace("Wait\u2026\u00a0“ok”")
    assert new == 'Wait... "ok"'
    assert changes == [("…", "..."), ("\u00a0", " "), ("“", '"'), ("”", '"')]


def test_smart_replace_leaves_plain_text_unchanged() -> None:
    text = "Your ticket #42 is solved. Reply 'REOPEN' to reopen it."
    assert smart_replace(text) == (text, [])


def test_smart_replace_leaves_other_non_gsm_characters_alone() -> None:
    new, changes = smart_replace("Спасибо ’ 😀")
    assert new == "Спасибо ' 😀"
    assert changes == [("’", "'")]


@pytest.mark.parametrize("char", ["‘", "’", "“", "”", "–", "—", "…", "\u00a0", "\u202f"])
def test_smart_replace_output_is_gsm(char: str) -> None:
    assert is_gsm7(smart_replace(char)[0])
