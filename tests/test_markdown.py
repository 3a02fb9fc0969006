"""Post Markdown as people write it today: each case compared with what CommonMark gives
(markdown-it-py, CommonMark's reference behaviour in Python), structure for structure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from bleach._vendor import html5lib
from markdown_it import MarkdownIt

from blog.sanitize import render_markdown

COMMONMARK = MarkdownIt("commonmark").enable("table")


def shape(html_text: str) -> list:
    """The element tree as (tag, text, children), whitespace and attributes aside."""

    def walk(element: ET.Element) -> list:
        return [(child.tag, " ".join((child.text or "").split()), walk(child)) for child in element]

    body = html5lib.parse(html_text, namespaceHTMLElements=False).find("body")
    return walk(body)


CASES = {
    "a sub-list indented by two spaces nests": "- fruit\n  - apple\n  - pear\n- bread",
    "by four spaces too": "- fruit\n    - apple\n- bread",
    "three levels": "- a\n  - b\n    - c\n- d",
    "under a numbered item, by three": "1. first\n   1. inner\n2. second",
    "a numbered list right after bullets starts a new list": "- a\n- b\n1. one\n2. two",
    "and bullets right after numbers": "1. one\n2. two\n- a",
    "a numbered list inside bullets": "- a\n  1. x\n  2. y\n- b",
    "a second paragraph in an item": "- a\n\n  more about a\n- b",
    "a list ends at a paragraph": "* a\n* b\n\nafter",
    "indented code stays code": "text\n\n    code(1)",
}


@pytest.mark.parametrize("text", list(CASES.values()), ids=list(CASES))
def test_lists_nest_as_commonmark_nests_them(text):
    assert shape(render_markdown(text)) == shape(COMMONMARK.render(text))


def test_fenced_code_keeps_its_language_for_highlighting():
    html_text = render_markdown("```python\nprint('hi')\n```")
    assert '<code class="language-python">' in html_text
    assert shape(html_text) == shape(COMMONMARK.render("```python\nprint('hi')\n```"))


def test_table_alignment_is_a_class_the_stylesheet_honours():
    html_text = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |")
    for align in ("left", "center", "right"):
        assert f'<th class="align-{align}">' in html_text
        assert f'<td class="align-{align}">' in html_text
    assert "align=" not in html_text  # obsolete in HTML; and overridden by the stylesheet
    with open("static/style.css", encoding="utf-8") as css:
        rules = css.read()
    for align in ("center", "right"):
        assert f".align-{align}" in rules


def test_a_made_up_class_on_a_cell_is_dropped():
    assert (
        render_markdown('<table><tr><td class="admin-nav">x</td></tr></table>').count("admin-nav")
        == 0
    )
