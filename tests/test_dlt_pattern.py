"""India's DLT: what fits a registered pattern, and what the refusal says when it does not."""

from __future__ import annotations

import pytest

from helpdesk_sms.dlt import DltMismatch, check_against_pattern, pattern_errors

PATTERN = "Dear {#var#}, your ticket {#var#} is closed. -Helpdesk"


@pytest.mark.parametrize(
    "text",
    [
        "Dear Ravi, your ticket 42 is closed. -Helpdesk",
        "Dear Ravi Kumar, your ticket HD-2026-0042 is closed. -Helpdesk",
        "Dear , your ticket 42 is closed. -Helpdesk",  # a variable may be empty
        "Dear Ravi,\nyour ticket 42 is closed.  -Helpdesk\n",  # whitespace runs are one space
        "  Dear Ravi, your ticket 42 is closed. -Helpdesk",
        "Dear " + "x" * 30 + ", your ticket 42 is closed. -Helpdesk",  # 30: DLT's limit
    ],
)
def test_texts_that_fit_the_registered_pattern_pass(text):
    check_against_pattern(text, PATTERN)


@pytest.mark.parametrize(
    "text",
    [
        "Dear Ravi, your case 42 is closed. -Helpdesk",  # a literal word changed
        "dear Ravi, your ticket 42 is closed. -Helpdesk",  # letter case counts
        "Dear Ravi, your ticket 42 is closed.",  # the signature is missing
        "Dear Ravi, your ticket 42 is closed. -Helpdesk Team",  # something added
        "Dear Ravi your ticket 42 is closed. -Helpdesk",  # punctuation counts
        "Dear " + "x" * 31 + ", your ticket 42 is closed. -Helpdesk",
        # An empty value between spaces leaves one space; the registered text has two.
        "Dear Ravi, your ticket  is closed. -Helpdesk",
    ],
)
def test_texts_that_differ_from_the_registered_pattern_are_refused(text):
    with pytest.raises(DltMismatch) as caught:
        check_against_pattern(text, PATTERN)

    assert caught.value.field == "text"


def test_the_refusal_shows_where_the_texts_differ():
    with pytest.raises(DltMismatch) as caught:
        check_against_pattern("Dear Ravi, your case 42 is closed. -Helpdesk", PATTERN)

    message = str(caught.value)
    assert "at character 17" in message
    assert "'ticket {#var#} is closed…'" in message  # what the registered text goes on with
    assert "'case 42 is closed. -Help…'" in message  # what the message has there
    assert PATTERN in message


def test_a_missing_ending_is_shown_as_nothing_more():
    with pytest.raises(DltMismatch) as caught:
        check_against_pattern("Dear Ravi, your ticket 42 is closed.", PATTERN)

    assert "the message (nothing more)" in str(caught.value)


def test_a_value_too_long_for_dlt_is_named_with_its_length():
    text = "Dear " + "x" * 31 + ", your ticket 42 is closed. -Helpdesk"

    with pytest.raises(DltMismatch) as caught:
        check_against_pattern(text, PATTERN)

    assert "{#var#} number 1 has 31 characters, DLT allows 30" in str(caught.value)


def test_the_variable_marker_is_read_in_any_letter_case():
    check_against_pattern("Code 1234 for you", "Code {#VAR#} for you")


def test_no_pattern_checks_nothing():
    check_against_pattern("anything at all", "")


@pytest.mark.parametrize("pattern", ["Dear {#name#}, hello", "Dear {#var#, hello", "x #} y"])
def test_a_variable_not_written_as_var_is_a_pattern_error(pattern):
    assert pattern_errors(pattern) == [
        "write each variable exactly as {#var#}; the pattern has a '{#' or '#}' that is not "
        "part of one"
    ]


def test_a_text_unlike_a_pattern_of_adjacent_variables_is_refused_without_backtracking():
    """Five variables separated by spaces against 200 words: a backtracking regex took a
    minute here (on a ticket save); the check reads the text a bounded number of times.
    Measured against the cost of one plain comparison of the same text, in the same run."""
    import time

    pattern = "Ticket {#var#} {#var#} {#var#} {#var#} {#var#} updated. HELPDK"
    text = "Ticket " + "a " * 200 + "updated! HELPDK"
    started = time.perf_counter()
    with pytest.raises(DltMismatch):
        check_against_pattern(text, pattern)
    elapsed = time.perf_counter() - started

    reference = time.perf_counter()
    for _ in range(1000):
        check_against_pattern("Code 1234 for you", "Code {#var#} for you")
    baseline = time.perf_counter() - reference
    assert elapsed < max(baseline * 50, 1.0)
