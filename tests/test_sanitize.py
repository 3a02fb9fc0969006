"""blog.sanitize, tested the way an attacker would use it.

Every check parses the output the way a browser-ish parser would (html.parser) and looks at
what tags, attributes and URLs actually come out, rather than trusting string shapes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blog.sanitize import (
    ALLOWED_PROTOCOLS,
    AUTHOR_WHITELIST,
    DEFAULT_COMMENT_WHITELIST,
    CommentSanitizer,
    allowed_tags_line,
    count_links,
    format_whitelist,
    parse_whitelist,
    plain_text,
    render_markdown,
    render_wordpress_html,
    sanitize_comment,
    summary,
)

WORDPRESS_LINE = (
    '<a href="" title=""> <abbr title=""> <acronym title=""> <b> <blockquote cite=""> <cite> '
    '<code> <del datetime=""> <em> <i> <q cite=""> <strike> <strong>'
)

EVENT_HANDLERS = [
    "onclick",
    "onerror",
    "onload",
    "onmouseover",
    "onfocus",
    "onblur",
    "onanimationstart",
    "onanimationend",
    "ontransitionend",
    "onpointerenter",
    "onkeydown",
    "oninput",
    "onscroll",
    "ontoggle",
    "onauxclick",
    "onbeforetoggle",
    "OnClIcK",
]
OTHER_FORBIDDEN_ATTRIBUTES = ["style", "class", "id", "name", "src", "srcdoc", "formaction"]

#: (tag, attribute) pairs carrying a URL in the default whitelist.
URL_SLOTS = [("a", "href"), ("blockquote", "cite"), ("q", "cite")]

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\njavascript:alert(1)",
    "\x01javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "&#X6a;avascript:alert(1)",
    "&#0000106avascript:alert(1)",
    "&#106avascript:alert(1)",
    "&#x0006A&#x61;vascript:alert(1)",
    "javascript&colon;alert(1)",
    "javascript&#58;alert(1)",
    "javascript&#x3a;alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "java&#x09;script:alert(1)",
    "java&#9;script:alert(1)",
    "java&Tab;script:alert(1)",
    "java&NewLine;script:alert(1)",
    "jav&#x0D;ascript:alert(1)",
    "java\x00script:alert(1)",
    "java\x01script:alert(1)",
    "java\u200bscript:alert(1)",
    "javascript://%0aalert(1)",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "livescript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "DaTa:text/html,<svg onload=alert(1)>",
    "feed:javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://example.com/",
    "jar:http://example.com!/",
    "x-javascript:alert(1)",
    # Decided: commenter links are absolute; relative and protocol-relative ones are refused.
    "//evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "/relative",
    "relative/path",
    "#fragment",
    "?q=1",
    "",
    "http:evil.example",
    "http:/evil.example",
    "http://",
    "https:",
    "mailto:",
]

GOOD_URLS = [
    "http://example.com",
    "https://example.com/path?a=1&amp;b=2#frag",
    "HTTPS://EXAMPLE.COM/",
    "https://user@example.com:8080/x",
    "mailto:someone@example.com",
    "MAILTO:someone@example.com?subject=hi",
]

NASTY_MARKUP = [
    "<b><i>x",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    '<a href="x" <b>',
    '<a href="javascript:alert(1)" <b>x</b>',
    "<!-- <script>alert(1)</script>",
    "<!--><script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<img src=x onerror=alert(1)>",
    "<image src=x onerror=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    "<svg><a xlink:href=javascript:alert(1)><text>x</text></a></svg>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mtext><table><mglyph><style><!--</style>"
    '<img title="--&gt;&lt;img src=1 onerror=alert(1)&gt;">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<iframe src=javascript:alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<base href=javascript:alert(1)//>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "<a href='javascript:alert(1)'>click</a>",
    "<a href=javascript:alert(1)>click</a>",
    "<a/href=javascript:alert(1)>click</a>",
    '<a href="https://ok.example"onclick=alert(1)>x</a>',
    '<a href="https://ok.example" href="javascript:alert(1)">x</a>',
    "<b onclick=alert(1)//",
    "<b style=x:expression(alert(1))>x</b>",
    "<plaintext><script>alert(1)</script>",
    "<select><option><script>alert(1)</script></option></select>",
    "<table><td><script>alert(1)</script></td></table>",
    "<a href='https://x.example'><a href='javascript:alert(1)'>nested</a></a>",
    "<blockquote cite=javascript:alert(1)><q cite=vbscript:x>q</q></blockquote>",
    "<p onclick=alert(1)>para</p><br onmouseover=alert(1)>",
    "<</p>script>alert(1)<</p>/script>",
    "\x00<script>alert(1)</script>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<script\n>alert(1)</script\n>",
    "<style>@import 'javascript:alert(1)';</style>",
]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class Recorder(HTMLParser):
    """Records every start tag with its attributes (values entity-decoded, as a browser does)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.events: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self.events.append(("start", tag))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))


def parse(html_text: str) -> Recorder:
    recorder = Recorder()
    recorder.feed(html_text)
    recorder.close()
    return recorder


def scheme(url: str | None) -> str | None:
    """The scheme a browser could read from an (already entity-decoded) URL attribute."""
    compact = re.sub(r"[\x00-\x20\x7f-\xa0\u200b-\u200f\ufeff\s]+", "", url or "").lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", compact)
    return match.group(1) if match else None


def assert_safe_comment(output: str, whitelist: Mapping[str, frozenset[str]]) -> None:
    """The contract of CommentSanitizer.clean, checked on what a parser sees."""
    assert "<script" not in output.lower()
    for tag, attrs in parse(output).elements:
        assert tag in whitelist or tag in {"p", "br"}, (tag, output)
        allowed = set(whitelist.get(tag, ())) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, (tag, attrs, output)
        for name in ("href", "cite"):
            if name in attrs:
                assert scheme(attrs[name]) in ALLOWED_PROTOCOLS, (attrs, output)
        if tag == "a" and "href" in attrs:
            assert attrs["rel"] == "nofollow ugc"


def assert_well_formed(output: str) -> None:
    """Every tag closed in order, no block or link where the browser would split it."""
    stack: list[str] = []
    for event, tag in parse(output).events:
        if tag == "br":
            continue
        if event == "start":
            if tag in {"p", "blockquote"}:
                assert "p" not in stack, output
            if tag == "a":
                assert "a" not in stack, output
            stack.append(tag)
        else:
            assert stack and stack[-1] == tag, output
            stack.pop()
    assert not stack, output


def assert_safe_post(output: str) -> None:
    lowered = output.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<style" not in lowered
    for tag, attrs in parse(output).elements:
        assert tag in AUTHOR_WHITELIST, (tag, output)
        if tag == "pre":  # the sanitizer's own: every code block takes the keyboard focus
            assert attrs.pop("tabindex", None) == "0", (tag, attrs, output)
        assert set(attrs) <= AUTHOR_WHITELIST[tag], (tag, attrs, output)
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style"
            if name in {"href", "src", "cite"}:
                assert scheme(value) in {None, *ALLOWED_PROTOCOLS}, (attrs, output)


def clean(text: str) -> str:
    return CommentSanitizer().clean(text)


# --------------------------------------------------------------------------------------------
# Whitelist and settings text
# --------------------------------------------------------------------------------------------


def test_default_whitelist_is_wordpress_allowedtags_in_order() -> None:
    assert list(DEFAULT_COMMENT_WHITELIST) == [
        "a", "abbr", "acronym", "b", "blockquote", "cite", "code",
        "del", "em", "i", "q", "strike", "strong",
    ]  # fmt: skip
    assert DEFAULT_COMMENT_WHITELIST["a"] == {"href", "title"}
    assert DEFAULT_COMMENT_WHITELIST["del"] == {"datetime"}


def test_allowed_tags_line_matches_wordpress_exactly() -> None:
    assert allowed_tags_line(DEFAULT_COMMENT_WHITELIST) == WORDPRESS_LINE


def test_format_and_parse_round_trip() -> None:
    text = format_whitelist(DEFAULT_COMMENT_WHITELIST)
    assert text.splitlines()[:3] == ["a href title", "abbr title", "acronym title"]
    parsed = parse_whitelist(text)
    assert parsed == dict(DEFAULT_COMMENT_WHITELIST)
    assert list(parsed) == list(DEFAULT_COMMENT_WHITELIST)
    assert format_whitelist(parsed) == text


def test_parse_whitelist_lowercases_ignores_blank_lines_and_merges() -> None:
    text = "\n  A  HREF Title \n\n b\n\t\na rel\n"
    assert parse_whitelist(text) == {"a": {"href", "title", "rel"}, "b": frozenset()}
    assert parse_whitelist("") == {}


@pytest.mark.parametrize(
    "tag",
    [
        "script", "style", "iframe", "object", "embed", "form", "input", "svg", "math",
        "base", "meta", "link", "textarea", "select", "button", "frame", "frameset", "img",
        "image", "template", "noscript", "video", "audio", "source", "SCRIPT", "my-widget",
        "p", "br",
    ],
)  # fmt: skip
def test_parse_whitelist_refuses_dangerous_tags(tag: str) -> None:
    with pytest.raises(ValueError, match="Line 2"):
        parse_whitelist(f"b\n{tag}\n")


@pytest.mark.parametrize(
    "attribute",
    [
        "onclick", "ONERROR", "onanimationstart", "style", "srcdoc", "formaction", "action",
        "xmlns", "xmlns-xlink", "src", "srcset", "id", "name", "class", "ping", "target",
    ],
)  # fmt: skip
def test_parse_whitelist_refuses_dangerous_attributes(attribute: str) -> None:
    with pytest.raises(ValueError, match=r"Line 1: .*never allowed"):
        parse_whitelist(f"a href {attribute}")


@pytest.mark.parametrize("line", ["a<b", "1a", 'a"', "x:y", "b title=x", "a xlink:href", "é"])
def test_parse_whitelist_refuses_names_that_are_not_names(line: str) -> None:
    with pytest.raises(ValueError, match="Line 1"):
        parse_whitelist(line)


def test_sanitizer_refuses_a_dangerous_whitelist_given_directly() -> None:
    with pytest.raises(ValueError):
        CommentSanitizer({"b": frozenset(), "script": frozenset()})
    with pytest.raises(ValueError):
        CommentSanitizer({"a": frozenset({"href", "onclick"})})


# --------------------------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "attribute"),
    list(product(DEFAULT_COMMENT_WHITELIST, EVENT_HANDLERS + OTHER_FORBIDDEN_ATTRIBUTES)),
)
def test_forbidden_attributes_are_dropped_from_every_allowed_tag(tag: str, attribute: str) -> None:
    for markup in (
        f'<{tag} {attribute}="alert(1)">x</{tag}>',
        f"<{tag} {attribute}=alert(1)>x</{tag}>",
        f"<{tag}/{attribute}=alert(1)>x</{tag}>",
        f'<{tag} title="t" {attribute}="alert(1)" {attribute}=2>x</{tag}>',
    ):
        output = clean(markup)
        recorder = parse(output)
        assert tag in [name for name, _ in recorder.elements], output
        for _, attrs in recorder.elements:
            assert attribute.lower() not in attrs, output
            assert not any("alert" in (value or "") for value in attrs.values()), output
        assert_safe_comment(output, DEFAULT_COMMENT_WHITELIST)


def test_allowed_attributes_survive() -> None:
    output = clean(
        '<abbr title="HyperText">HTML</abbr> <del datetime="2024-01-01">old</del> '
        '<q cite="https://example.com/src">quote</q> <a href="https://example.com" title="t">x</a>'
    )
    assert '<abbr title="HyperText">HTML</abbr>' in output
    assert '<del datetime="2024-01-01">old</del>' in output
    assert '<q cite="https://example.com/src">quote</q>' in output
    assert '<a href="https://example.com" title="t" rel="nofollow ugc">x</a>' in output


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "attribute"), URL_SLOTS)
@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_urls_are_removed(tag: str, attribute: str, url: str) -> None:
    for markup in (
        f'<{tag} {attribute}="{url}">x</{tag}>',
        f"<{tag} {attribute}='{url}'>x</{tag}>",
    ):
        output = clean(markup)
        for _, attrs in parse(output).elements:
            assert attribute not in attrs, output
        assert_safe_comment(output, DEFAULT_COMMENT_WHITELIST)
        assert count_links(output) == 0


@pytest.mark.parametrize("url", GOOD_URLS)
def test_good_links_survive_with_nofollow_ugc(url: str) -> None:
    output = clean(f'<a href="{url}">x</a>')
    ((tag, attrs),) = parse(output).elements[1:]
    assert tag == "a"
    assert attrs["rel"] == "nofollow ugc"
    assert scheme(attrs["href"]) in {"http", "https", "mailto"}
    assert count_links(output) == 1


@pytest.mark.parametrize("url", GOOD_URLS)
def test_good_cites_survive(url: str) -> None:
    output = clean(f'<blockquote cite="{url}">said</blockquote>')
    assert parse(output).elements[0] == ("blockquote", {"cite": html.unescape(url)})


def test_rel_is_replaced_not_merged() -> None:
    output = sanitize_comment(
        '<a href="https://example.com" rel="dofollow noopener">x</a>',
        {"a": frozenset({"href", "rel"})},
    )
    assert parse(output).elements[1][1]["rel"] == "nofollow ugc"


# --------------------------------------------------------------------------------------------
# Nested, broken and namespace-confused markup
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("markup", NASTY_MARKUP)
def test_nasty_markup_is_neutralised(markup: str) -> None:
    output = clean(markup)
    assert_safe_comment(output, DEFAULT_COMMENT_WHITELIST)
    assert_well_formed(output)
    for _, attrs in parse(output).elements:
        assert not any("alert" in (value or "") for value in attrs.values())


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>hi",
        "<SCRIPT>alert(1)</SCRIPT>hi",
        "<script type=text/plain>alert(1)</script>hi",
        "<style>body{background:url(alert)}</style>hi",
        "<template><b>alert</b></template>hi",
        "<noscript>alert</noscript>hi",
        "<iframe>alert</iframe>hi",
        "<title>alert</title>hi",
        "<textarea>alert</textarea>hi",
        "<xmp>alert</xmp>hi",
        "<noembed>alert</noembed>hi",
        "<noframes>alert</noframes>hi",
        "hi<script>alert(1)",
        "<b>hi<script>alert(1)</script></b>",
    ],
)
def test_script_like_content_is_dropped_not_shown(markup: str) -> None:
    output = clean(markup)
    assert "hi" in output
    assert "alert" not in output


def test_script_only_comment_is_empty() -> None:
    assert clean("<script>alert(1)</script>") == ""
    assert clean("<style>x</style>\n\n") == ""


def test_disallowed_tags_are_stripped_keeping_text() -> None:
    output = clean("<span>one</span> <u>two</u> <img src=x>three <h1>four</h1>")
    assert {name for name, _ in parse(output).elements} <= {"p", "br"}
    for word in ("one", "two", "three", "four"):
        assert word in output


def test_text_is_escaped() -> None:
    assert clean('a < b > c & d "e"') == '<p>a &lt; b &gt; c &amp; d "e"</p>'
    assert clean("&lt;script&gt;alert(1)&lt;/script&gt;") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


@pytest.mark.parametrize(
    "text", ["[x](javascript:alert(1))", "![x](javascript:alert(1))", "[x]: javascript:alert(1)"]
)
def test_markdown_syntax_is_not_markdown_in_comments(text: str) -> None:
    output = clean(text)
    assert output == f"<p>{text}</p>"
    assert count_links(output) == 0


def test_markdown_link_with_web_url_only_links_the_url() -> None:
    output = clean("[x](http://example.com)")
    assert output.startswith("<p>[x](<a href=")
    assert output.endswith("</a>)</p>")
    assert count_links(output) == 1


# --------------------------------------------------------------------------------------------
# Linkify
# --------------------------------------------------------------------------------------------


def test_bare_url_becomes_nofollow_link_with_escaped_ampersand() -> None:
    assert clean("see https://example.com/x?a=1&b=2") == (
        '<p>see <a href="https://example.com/x?a=1&amp;b=2" rel="nofollow ugc">'
        "https://example.com/x?a=1&amp;b=2</a></p>"
    )


def test_url_inside_a_link_is_not_linked_twice() -> None:
    output = clean('<a href="https://example.com">https://example.com</a>')
    assert output.count("<a ") == 1
    assert count_links(output) == 1


def test_www_is_linked_but_file_names_are_not() -> None:
    output = clean("Edit setup.py, README.md and www.example.com.")
    assert count_links(output) == 1
    assert '<a href="http://www.example.com" rel="nofollow ugc">www.example.com</a>.' in output


def test_trailing_punctuation_and_parentheses_stay_outside_links() -> None:
    output = clean("(see https://example.com/a). Or https://en.wikipedia.org/wiki/X_(y)!")
    hrefs = [attrs["href"] for tag, attrs in parse(output).elements if tag == "a"]
    assert hrefs == ["https://example.com/a", "https://en.wikipedia.org/wiki/X_(y)"]


def test_urls_in_code_are_not_linked() -> None:
    assert count_links(clean("<code>curl https://example.com</code>")) == 0


def test_only_web_urls_are_linked() -> None:
    for text in ("javascript:alert(1)", "data:text/html,x", "ftp://example.com", "feed://x.com"):
        output = clean(text)
        assert count_links(output) == 0, output
    assert count_links(clean("http://")) == 0


def test_count_links_counts_typed_and_linkified_links_only() -> None:
    output = clean('<a href="https://a.example">a</a>, https://b.example <a title="t">c</a>')
    assert count_links(output) == 2
    assert count_links("") == 0


# --------------------------------------------------------------------------------------------
# Paragraphs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\n\nb", "<p>a</p><p>b</p>"),
        ("a\nb", "<p>a<br>b</p>"),
        ("a\r\n\r\nb\r\nc", "<p>a</p><p>b<br>c</p>"),
        ("  a  \n \n\n  b  ", "<p>a</p><p>b  </p>"),
        ("\n\na\n\n", "<p>a</p>"),
        ("a<br>\nb", "<p>a<br>b</p>"),
        ('<p onclick="alert(1)" class="x">para</p><p>two</p>', "<p>para</p><p>two</p>"),
        ("a<br style='x' onclick=alert(1)>b", "<p>a<br>b</p>"),
        ("<b>bold</b>\n<i>it</i>", "<p><b>bold</b><br><i>it</i></p>"),
        ("<b>a\n\nb</b> c", "<p><b>a<br><br>b</b> c</p>"),
        (
            "<blockquote>q1\n\nq2</blockquote>\n\nafter",
            "<blockquote><p>q1</p><p>q2</p></blockquote><p>after</p>",
        ),
        ("a\n<blockquote>b</blockquote>\nc", "<p>a</p><blockquote><p>b</p></blockquote><p>c</p>"),
        (
            "x <b>y<blockquote>z</blockquote>w</b> v",
            "<p>x <b>y</b></p><blockquote><p>z</p></blockquote><p>w v</p>",
        ),
        (
            "<blockquote>out<blockquote>in\nside</blockquote></blockquote>",
            "<blockquote><p>out</p><blockquote><p>in<br>side</p></blockquote></blockquote>",
        ),
    ],
)
def test_line_breaks_become_paragraphs(text: str, expected: str) -> None:
    output = clean(text)
    assert output == expected
    assert_well_formed(output)


@pytest.mark.parametrize(
    "text", ["", " ", "\n\n\t ", "<!-- x -->", "<p></p>\n<p> </p>", "<script>x</script>"]
)
def test_blank_input_gives_empty_string(text: str) -> None:
    assert clean(text) == ""


def test_clean_is_deterministic_and_does_not_amplify() -> None:
    sanitizer = CommentSanitizer()
    text = ("<b>x\n\n<a href='https://example.com/" + "y" * 500 + "'>l\n\n") * 200
    first = sanitizer.clean(text)
    assert sanitizer.clean(text) == first
    assert len(first) < 3 * len(text)
    assert_well_formed(first)


def test_custom_whitelist_is_enforced() -> None:
    only_b = {"b": frozenset()}
    text = '<i>it</i> <b title="t">bold</b> <a href="https://example.com">x</a> <blockquote>q'
    for output in (CommentSanitizer(only_b).clean(text), sanitize_comment(text, only_b)):
        assert [name for name, _ in parse(output).elements] == ["p", "b", "br"]  # from <blockquote>
        assert output == "<p>it <b>bold</b> x<br>q</p>"
        assert_safe_comment(output, only_b)


def test_sanitize_comment_matches_a_fresh_sanitizer() -> None:
    text = "hi <b>there</b> https://example.com"
    assert sanitize_comment(text) == CommentSanitizer().clean(text)
    assert sanitize_comment(text, dict(DEFAULT_COMMENT_WHITELIST)) == sanitize_comment(text)


def test_sanitizer_is_safe_to_share_between_threads() -> None:
    sanitizer = CommentSanitizer()
    texts = [f"<b>{i}</b>\n\nhttps://example.com/{i} <i>x{i}" * (i % 7 + 1) for i in range(200)]
    expected = [sanitizer.clean(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(sanitizer.clean, texts)) == expected


# --------------------------------------------------------------------------------------------
# Posts (Markdown)
# --------------------------------------------------------------------------------------------


def test_markdown_features_render() -> None:
    output = render_markdown(
        "# Title\n\nSome *em* and **strong** text[^1].\n\n"
        '```python\nprint("hi")\n```\n\n'
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "- one\n- two\n\n3. three\n4. four\n\n"
        '![cat](https://example.com/cat.png "Cat")\n\n'
        "[about](/about) [top](#top) [mail](mailto:a@example.com)\n\n"
        "[^1]: The note."
    )
    assert "<h1>Title</h1>" in output
    assert "<em>em</em>" in output and "<strong>strong</strong>" in output
    assert '<pre tabindex="0"><code class="language-python">print(&quot;hi&quot;)' in output
    assert '<th class="align-left">a</th>' in output and '<td class="align-right">2</td>' in output
    assert "<ul>" in output and '<ol start="3">' in output
    assert '<img alt="cat" src="https://example.com/cat.png" title="Cat">' in output
    assert '<a href="/about">about</a>' in output and '<a href="#top">top</a>' in output
    assert '<sup id="fnref:1"><a class="footnote-ref" href="#fn:1">1</a></sup>' in output
    assert '<li id="fn:1">' in output and '<div class="footnote">' in output
    assert "footnote-backref" in output
    assert "style=" not in output
    assert_safe_post(output)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("2024-01-01", True),
        ("2024-01-01T10:00Z", True),
        ("2024-01-01 10:00:00+01:00", True),
        ("2024-01-01T10:00:00.123+0100", True),
        ("2024-01-01T10:00", False),  # a time needs its offset
        ("2024-01-01T10:00:00.123456+00:00", False),  # at most three fraction digits
        ("yesterday", False),
        ('2024-01-01" onmouseover="x', False),
    ],
)
def test_a_datetime_attribute_is_kept_only_when_html_allows_it(value: str, kept: bool) -> None:
    """A page must stay valid HTML whatever a commenter or author typed."""
    for output in (
        sanitize_comment(f'<del datetime="{html.escape(value)}">old</del>'),
        render_markdown(f'<ins datetime="{html.escape(value)}">new</ins>'),
    ):
        assert ("datetime=" in output) is kept, output
        assert "onmouseover=" not in output


@pytest.mark.parametrize(
    "body",
    [
        "```\nwide code\n```",
        "    indented code",
        '<pre tabindex="-1">raw</pre>',
        '<pre tabindex="7" class="x">raw</pre>',
    ],
)
def test_code_blocks_take_the_keyboard_focus_and_nothing_else_does(body: str) -> None:
    """A code block wider than the page scrolls; only what takes the focus can be scrolled
    from the keyboard (axe's scrollable-region-focusable). tabindex is the sanitizer's to set:
    an author's own is replaced on <pre> and dropped everywhere else."""
    output = render_markdown(body + '\n\n<p tabindex="1">x</p><div tabindex="2">y</div>')
    assert output.count('<pre tabindex="0">') == 1
    assert output.count("tabindex") == 1
    assert '<pre tabindex="0">' in render_wordpress_html("<pre>x</pre>")


@pytest.mark.parametrize(
    ("markdown_text", "gone"),
    [
        ("hello\n\n<script>alert(1)</script>\n\nworld", "alert"),
        ("inline <script>alert(1)</script> script", "alert"),
        ("[x](javascript:alert(1))", "javascript"),
        ("[x](JaVaScRiPt:alert(1))", "alert"),
        ("[x](&#106;avascript:alert(1))", "alert"),
        ("[x]\n\n[x]: javascript:alert(1)", "alert"),
        ("![x](javascript:alert(1))", "alert"),
        ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "data:"),
        ("<img src=x onerror=alert(1)>", "onerror"),
        ("<iframe src=https://evil.example></iframe>", "iframe"),
        ("<style>body{display:none}</style>", "display"),
        ('<a href="data:text/html,<script>alert(1)</script>">d</a>', "data:"),
        ('<a href="vbscript:msgbox(1)">v</a>', "vbscript"),
        ('<div style="position:fixed">x</div>', "position"),
        ('<p onclick="alert(1)">x</p>', "alert"),
        ("<svg><script>alert(1)</script></svg>", "alert"),
        ("<form action=https://evil.example><input name=q></form>", "form"),
        ('<h2 id="login">x</h2> <p class="admin-badge">y</p>', "login"),
        ('<code class="evil">x</code>', "evil"),
        ('<object data="https://evil.example/x.swf"></object>', "object"),
    ],
)
def test_markdown_neutralises_attacks(markdown_text: str, gone: str) -> None:
    output = render_markdown(markdown_text)
    assert gone not in output.lower()
    assert_safe_post(output)


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


def test_plain_text_strips_tags_decodes_entities_and_collapses_space() -> None:
    assert plain_text("<p>Hello <b>world</b></p>\n\n<p>again</p>") == "Hello world again"
    assert plain_text("a<br>b<li>c</li>") == "a b c"
    assert plain_text("&lt;b&gt; &amp; &#8230; &copy;") == "<b> & … ©"
    assert plain_text("<script>alert(1)</script><style>x</style>ok") == "ok"
    assert plain_text("") == ""


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(100, "Hello wonderful world"), (21, "Hello wonderful world"), (20, "Hello wonderful…"),
     (12, "Hello…"), (5, "Hell…"), (1, "…")],
)  # fmt: skip
def test_plain_text_limit_cuts_at_word_boundary(limit: int, expected: str) -> None:
    output = plain_text("<p>Hello <em>wonderful</em> world</p>", limit)
    assert output == expected
    assert len(output) <= limit


def test_summary_keeps_the_prose_and_leaves_out_code_tables_and_footnotes() -> None:
    html = render_markdown(
        "Bread takes time[^1].\n\n| Step | Time |\n| --- | --- |\n| Rise | 12 h |\n\n"
        "```python\nprint('x')\n```\n\nThen bake it.\n\n[^1]: A whole day, really."
    )
    assert summary(html, 300) == "Bread takes time. Then bake it."
    assert plain_text(html).startswith("Bread takes time1.")  # plain_text keeps everything


def test_summary_is_limited_like_plain_text() -> None:
    assert summary("<p>Hello <em>wonderful</em> world</p>", 20) == "Hello wonderful…"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

FRAGMENTS = [
    "<", ">", "</", "/>", "/", "=", '"', "'", "`", " ", "\n", "\n\n", "\t", "\x00", "\x0b",
    "&", "&#", "&#x", "6A;", "106", "&colon;", "&Tab;", "&amp;", "&lt;", ";",
    "<a href=", '<a href="', "<a href='", "href=", "cite=", "title=", "</a>",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "vbscript:", "data:text/html,", "alert(1)",
    "http://", "https://example.com/?a=1&b=2", "www.example.com", "mailto:x@example.com",
    "//evil.example", "<script>", "</script>", "<script", "<style>", "</style>", "<svg>",
    "<math>", "<mtext>", "<mglyph>", "<table>", "<td>", "<select>", "<option>", "<img src=x ",
    "onerror=", "onclick=", " onload=", "style=", "<noscript>", "</noscript>", "<template>",
    "<textarea>", "</textarea>", "<title>", "<xmp>", "<iframe>", "<plaintext>", "<!--", "-->",
    "<![CDATA[", "]]>", "<p>", "</p>", "<p ", "<br>", "<br/>", "<blockquote>",
    "</blockquote>", "<div>", "<li>", "<pre>", *(f"<{tag}>" for tag in DEFAULT_COMMENT_WHITELIST),
    *(f"</{tag}>" for tag in DEFAULT_COMMENT_WHITELIST), *DEFAULT_COMMENT_WHITELIST,
]  # fmt: skip
MARKDOWN_FRAGMENTS = [
    "[x](", "](", ")", "![", "[", "]", "```", "\n```python\n", "|", "|--|", "[^1]",
    "\n[^1]: ", "<http://", "*", "#", "- ", "1. ", "    ", "> ", "\n\n[x]: ",
]  # fmt: skip

comment_texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=40).map("".join),
)
markdown_texts = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS + MARKDOWN_FRAGMENTS), st.text(max_size=3)),
        max_size=40,
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(comment_texts)
def test_property_comment_output_is_always_safe(text: str) -> None:
    sanitizer = CommentSanitizer()
    output = sanitizer.clean(text)
    assert_safe_comment(output, DEFAULT_COMMENT_WHITELIST)
    assert_well_formed(output)
    assert sanitizer.clean(text) == output


@settings(max_examples=300, deadline=None)
@given(comment_texts)
def test_property_custom_whitelist_output_is_always_safe(text: str) -> None:
    whitelist = {"b": frozenset(), "a": frozenset({"href"})}
    output = sanitize_comment(text, whitelist)
    assert_safe_comment(output, whitelist)
    assert_well_formed(output)


@settings(max_examples=300, deadline=None)
@given(markdown_texts)
def test_property_markdown_output_is_always_safe(text: str) -> None:
    assert_safe_post(render_markdown(text))
