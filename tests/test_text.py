"""The character check every way in uses (forms, API, CLI, import)."""

import pytest

from blog.text import bad_characters, like_pattern, markdown_nesting


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain text, with tabs\tand\nnewlines\r\n", None),
        ("émoji 😀 and 日本語", None),
        ("nul\x00", "contains a NUL character"),
        ("bell\x07", "contains a control character (U+0007)"),
        ("c1\x85", "contains a control character (U+0085)"),
        ("lone\ud800", "contains an invalid character (a lone surrogate)"),
        ("non\ufffe", "contains an invalid character (U+FFFE)"),
        ("non\uffff", "contains an invalid character (U+FFFF)"),
        ("non\ufdd0", "contains an invalid character (U+FDD0)"),
        ("plane 1 \U0001fffe", "contains an invalid character (U+1FFFE)"),
    ],
)
def test_bad_characters(value: str, problem: str | None) -> None:
    assert bad_characters(value) == problem


@pytest.mark.parametrize(
    ("terms", "pattern"),
    [
        ("abc", "%abc%"),
        ("100%", "%100\\%%"),
        ("a_b", "%a\\_b%"),
        ("back\\slash", "%back\\\\slash%"),
    ],
)
def test_like_pattern_escapes_wildcards(terms: str, pattern: str) -> None:
    assert like_pattern(terms) == pattern


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("Plain words.\n\nMore words.", 0),
        ("- a\n  - b\n    - c\n", 2),
        ("- a\n\t- b\n", 2),  # a tab is four columns
        ("> a\n> > b\n>>> c\n", 3),
        ("> - a\n>   - b\n", 2),
        ("```\n" + " " * 400 + "code keeps its spaces\n```\nafter\n", 0),
        ("~~~~\n```\n" + " " * 400 + "x\n~~~~\n", 0),  # a shorter or other fence stays text
        ("```\nnever closed\n" + " " * 400 + "x\n", 0),
    ],
)
def test_markdown_nesting_counts_levels(text: str, depth: int) -> None:
    assert markdown_nesting(text) == depth
