"""The one place where text becomes HTML: comment whitelist, comment cleaning, post Markdown.

Security is the product here: nothing a commenter types may ever run script in a reader's
browser. So this is the only module that imports bleach and markdown, everything is done in
one parse/filter/serialize pass per call (no editing of HTML after the sanitizer has run),
and the result is stored once, on write, and printed as-is.

The module is pure: it takes strings and returns strings, and knows nothing of Flask or the
database, so the web views, the API, the CLI and the WXR importer all share it.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import markdown
from bleach.html5lib_shim import BleachHTMLParser, Filter, getTreeWalker
from bleach.linkifier import LinkifyFilter
from bleach.sanitizer import BleachSanitizerFilter, Cleaner

__all__ = [
    "ALLOWED_PROTOCOLS",
    "AUTHOR_WHITELIST",
    "DEFAULT_COMMENT_WHITELIST",
    "COMMENT_MARKUP_LIMITS",
    "CommentSanitizer",
    "MarkupLimits",
    "Whitelist",
    "allowed_tags_line",
    "count_links",
    "format_whitelist",
    "markup_problems",
    "parse_whitelist",
    "plain_text",
    "render_markdown",
    "render_markdown_job",
    "render_wordpress_html",
    "sanitize_comment",
]

Whitelist = Mapping[str, frozenset[str]]
"""Tag name -> the attribute names allowed on it."""

Token = dict[str, Any]
"""An html5lib tree-walker token."""

_T = TypeVar("_T")

#: WordPress's comment whitelist (``$allowedtags``), in WordPress's order, so the "You may use
#: these HTML tags" line and imported habits carry over unchanged.
DEFAULT_COMMENT_WHITELIST: Whitelist = MappingProxyType(
    {
        "a": frozenset({"href", "title"}),
        "abbr": frozenset({"title"}),
        "acronym": frozenset({"title"}),
        "b": frozenset(),
        "blockquote": frozenset({"cite"}),
        "cite": frozenset(),
        "code": frozenset(),
        "del": frozenset({"datetime"}),
        "em": frozenset(),
        "i": frozenset(),
        "q": frozenset({"cite"}),
        "strike": frozenset(),
        "strong": frozenset(),
    }
)

ALLOWED_PROTOCOLS = ("http", "https", "mailto")

#: What posts may contain. Authors are trusted to write, not to run script: this is wider than
#: the comment whitelist (and covers what the Markdown extensions emit) but has no script,
#: style, frames, forms or event handlers either.
AUTHOR_WHITELIST: Whitelist = MappingProxyType(
    {
        **{f"h{level}": frozenset() for level in range(1, 7)},
        "p": frozenset(),
        "br": frozenset(),
        "hr": frozenset(),
        "ul": frozenset(),
        "ol": frozenset({"start"}),
        "li": frozenset({"id"}),
        "dl": frozenset(),
        "dt": frozenset(),
        "dd": frozenset(),
        "blockquote": frozenset({"cite"}),
        "pre": frozenset(),
        "code": frozenset({"class"}),
        "em": frozenset(),
        "strong": frozenset(),
        "b": frozenset(),
        "i": frozenset(),
        "del": frozenset({"datetime"}),
        "ins": frozenset({"datetime"}),
        "sup": frozenset({"id"}),
        "sub": frozenset(),
        "a": frozenset({"href", "title", "class"}),
        # srcset/sizes: the smaller copies of an uploaded image (media library), added on
        # write by the renderer; every URL in srcset is checked like src.
        "img": frozenset({"src", "alt", "title", "width", "height", "srcset", "sizes"}),
        "table": frozenset(),
        "thead": frozenset(),
        "tbody": frozenset(),
        "tr": frozenset(),
        "th": frozenset({"class"}),
        "td": frozenset({"class"}),
        "div": frozenset({"class"}),
        "abbr": frozenset({"title"}),
        "figure": frozenset(),
        "figcaption": frozenset(),
        "kbd": frozenset(),
        "mark": frozenset(),
        "span": frozenset({"class"}),
    }
)

#: ``align="..."`` instead of ``style="text-align: ..."`` (style attributes are never kept);
#: ``_AsPeopleWrite`` then turns it into a class the stylesheet honours.
_MARKDOWN_CONFIG = {"tables": {"use_align_attribute": True}}

#: Elements whose content is never page text (or is parsed as raw text, so keeping it as text
#: would re-read it in a different mode than the browser did): dropped with everything inside.
#: ``plaintext`` is left out on purpose: it would swallow the rest of the comment.
DROPPED_WITH_CONTENT = frozenset(
    {
        "iframe",
        "noembed",
        "noframes",
        "noscript",
        "script",
        "style",
        "template",
        "textarea",
        "title",
        "xmp",
    }
)

#: Tags a comment whitelist may never name: they run script, load things from elsewhere
#: (tracking pixels), take input, or change how the rest of the page is parsed or resolved.
NEVER_ALLOWED_TAGS = DROPPED_WITH_CONTENT | frozenset(
    {
        "applet",
        "area",
        "audio",
        "base",
        "body",
        "button",
        "canvas",
        "datalist",
        "dialog",
        "embed",
        "form",
        "frame",
        "frameset",
        "head",
        "html",
        "image",
        "img",
        "input",
        "keygen",
        "link",
        "listing",
        "map",
        "math",
        "meta",
        "object",
        "option",
        "optgroup",
        "output",
        "param",
        "picture",
        "plaintext",
        "portal",
        "select",
        "slot",
        "source",
        "svg",
        "track",
        "video",
    }
)

#: Attributes a comment whitelist may never name (besides every ``on*`` and ``xmlns*``):
#: script and style carriers, things that fetch URLs, and ids/names/classes that would let a
#: comment clobber the page's DOM or dress up as the site's own interface.
NEVER_ALLOWED_ATTRIBUTES = frozenset(
    {
        "action",
        "background",
        "class",
        "data",
        "dynsrc",
        "form",
        "formaction",
        "http-equiv",
        "id",
        "is",
        "lowsrc",
        "name",
        "ping",
        "poster",
        "src",
        "srcdoc",
        "srcset",
        "style",
        "target",
    }
)

#: ``p`` and ``br`` come from the commenter's line breaks; they are never listed.
_LINE_BREAK_TAGS = frozenset({"p", "br"})

_NAME_RE = re.compile(r"[a-z][a-z0-9-]*", re.ASCII)

#: Attributes holding a URL: checked by scheme on top of bleach's own check.
_URL_ATTRIBUTES = frozenset(
    {"action", "background", "cite", "codebase", "data", "formaction", "href", "longdesc"}
    | {"poster", "src", "usemap"}
)

# --------------------------------------------------------------------------------------------
# Whitelists as settings text
# --------------------------------------------------------------------------------------------


def parse_whitelist(text: str) -> dict[str, frozenset[str]]:
    """Read the settings textarea ("a href title" per line) into a whitelist.

    Refuses, with a message naming the line, anything that could let a comment run script or
    fetch something, so a typo in the settings cannot open a hole.
    """
    whitelist: dict[str, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        names = line.lower().split()
        if not names:
            continue
        tag, attributes = names[0], names[1:]
        try:
            _check_entry(tag, attributes)
        except ValueError as error:
            raise ValueError(f"Line {number}: {error}") from None
        whitelist[tag] = whitelist.get(tag, frozenset()) | frozenset(attributes)
    return whitelist


def format_whitelist(whitelist: Whitelist) -> str:
    """The settings textarea text for a whitelist; ``parse_whitelist`` reads it back."""
    return "\n".join(" ".join([tag, *sorted(attrs)]) for tag, attrs in whitelist.items())


def allowed_tags_line(whitelist: Whitelist) -> str:
    """WordPress's "You may use these HTML tags and attributes" line, as plain text."""
    return " ".join(
        "<" + " ".join([tag, *(f'{attr}=""' for attr in sorted(attrs))]) + ">"
        for tag, attrs in whitelist.items()
    )


def _check_entry(tag: str, attributes: Iterable[str]) -> None:
    """Raise ValueError if one whitelist entry could make a comment dangerous."""
    if not _NAME_RE.fullmatch(tag):
        raise ValueError(f"{tag!r} is not a tag name (use letters, digits and '-').")
    if tag in _LINE_BREAK_TAGS:
        raise ValueError(f"<{tag}> is made from line breaks automatically; do not list it.")
    if tag in NEVER_ALLOWED_TAGS:
        raise ValueError(
            f"<{tag}> is never allowed in comments: it can run script, load content from "
            "elsewhere or change the page around the comment."
        )
    if "-" in tag:
        raise ValueError(f"<{tag}> is a custom element, which the page's scripts may act on.")
    for attr in attributes:
        if not _NAME_RE.fullmatch(attr):
            raise ValueError(
                f"{attr!r} on <{tag}> is not an attribute name (use letters, digits and '-')."
            )
        if attr.startswith(("on", "xmlns")) or attr in NEVER_ALLOWED_ATTRIBUTES:
            raise ValueError(
                f"The {attr!r} attribute is never allowed in comments: it can run script, "
                "fetch content or restyle and clobber the page."
            )


def _check_whitelist(whitelist: Whitelist) -> None:
    for tag, attributes in whitelist.items():
        _check_entry(tag, attributes)


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------

#: Everything a browser skips or might skip while reading a scheme, and more: whitespace,
#: controls and invisible format characters. Dropping too much only ever refuses a link.
_URL_IGNORED_RE = re.compile(
    "[\x00-\x20\x7f-\xa0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]+"
    r"|\s+"
)
_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):", re.ASCII)
#: http(s) with a host: "http:foo" and "http:/foo" are relative to the page in browsers.
_WEB_URL_RE = re.compile(r"https?:[/\\]{2}[^/\\?#]", re.ASCII)


def _url_as_read(value: str) -> str:
    """How a URL attribute's start reads once entities are decoded and blanks dropped."""
    return _URL_IGNORED_RE.sub("", html.unescape(value)).lower()


def _is_commenter_url(value: str) -> bool:
    """Commenter links must be absolute http(s) or mailto: no relative or //host links.

    A relative link in a comment points into this site and borrows its trust (a fake
    "/login"); a protocol-relative one hides where it goes.
    """
    url = _url_as_read(value)
    if url.startswith("mailto:"):
        return len(url) > len("mailto:")
    return _WEB_URL_RE.match(url) is not None


def _is_author_url(value: str) -> bool:
    """Post links may be relative or #fragments (footnotes), but any scheme must be allowed."""
    match = _SCHEME_RE.match(_url_as_read(value))
    return match is None or match.group(1) in ALLOWED_PROTOCOLS


# --------------------------------------------------------------------------------------------
# The single-pass cleaner and its html5lib filters
# --------------------------------------------------------------------------------------------


class _PerThread(threading.local, Generic[_T]):
    """One instance per thread: html5lib parsers keep their parse state on the instance."""

    def __init__(self, factory: Callable[[], _T]) -> None:
        self.value = factory()


class _SinglePassCleaner(Cleaner):
    """bleach's Cleaner with filters *before* its sanitizer, in the same parse and serialize.

    bleach's strip mode turns a disallowed tag into nothing while tokenizing, so the text of a
    ``<script>`` would survive as text. Here such elements are parsed as real elements (the
    parser sees them, so their content is tokenized as the browser would) and a pre-filter
    drops them whole before the sanitizer runs.
    """

    def __init__(
        self,
        *,
        tags: frozenset[str],
        attributes: Callable[[str, str, str], bool],
        parse_tags: frozenset[str],
        pre_filters: list[Callable[..., Filter]],
        filters: list[Callable[..., Filter]],
    ) -> None:
        super().__init__(
            tags=tags,
            attributes=attributes,
            protocols=frozenset(ALLOWED_PROTOCOLS),
            strip=True,
            strip_comments=True,
            filters=filters,
        )
        self.pre_filters = pre_filters
        self.parser = BleachHTMLParser(
            tags=tags | parse_tags,
            strip=True,
            consume_entities=False,
            namespaceHTMLElements=False,
        )

    def clean(self, text: str) -> str:
        if not text:
            return ""
        stream: Iterable[Token] = self.walker(self.parser.parseFragment(text))
        for pre_filter in self.pre_filters:
            stream = pre_filter(source=stream)
        stream = BleachSanitizerFilter(
            source=stream,
            allowed_tags=self.tags,
            attributes=self.attributes,
            allowed_protocols=self.protocols,
            strip_disallowed_tags=True,
            strip_html_comments=True,
        )
        for post_filter in self.filters:
            stream = post_filter(source=stream)
        return self.serializer.render(stream)


class _DropContentFilter(Filter):
    """Drops DROPPED_WITH_CONTENT elements whole; turns ``<p>`` boundaries into blank lines.

    A commenter's own ``<p>`` becomes a paragraph break rather than an element, so its
    attributes can never get through and paragraphs are made in one place only.
    """

    def __init__(self, source: Iterable[Token], paragraph_tags: frozenset[str]) -> None:
        super().__init__(source)
        self.paragraph_tags = paragraph_tags

    def __iter__(self) -> Iterator[Token]:
        depth = 0
        for token in super().__iter__():
            kind = token["type"]
            if depth:
                if kind == "StartTag":
                    depth += 1
                elif kind == "EndTag":
                    depth -= 1
                continue
            if kind in ("StartTag", "EndTag", "EmptyTag"):
                name = token["name"]
                if name in DROPPED_WITH_CONTENT:
                    depth = 1 if kind == "StartTag" else 0
                    continue
                if name in self.paragraph_tags:
                    yield {"type": "Characters", "data": "\n\n"}
                    continue
            yield token


# How the paragraph filter treats each element.
_INLINE, _FLOW, _BLOCK, _LIST, _PRE = range(5)
_TAG_KINDS = {
    **dict.fromkeys(
        ("address", "article", "aside", "blockquote", "center", "details", "dialog", "div"),
        _FLOW,
    ),
    **dict.fromkeys(
        ("fieldset", "figure", "footer", "header", "main", "nav", "search", "section"), _FLOW
    ),
    **dict.fromkeys(
        ("caption", "dd", "dt", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr"),
        _BLOCK,
    ),
    **dict.fromkeys(("legend", "li", "p", "summary", "td", "th"), _BLOCK),
    **dict.fromkeys(
        ("colgroup", "dir", "dl", "hgroup", "menu", "ol", "table", "tbody", "tfoot", "thead"),
        _LIST,
    ),
    **dict.fromkeys(("tr", "ul"), _LIST),
    **dict.fromkeys(("listing", "pre"), _PRE),
}

_NEWLINES_RE = re.compile(r"[^\S\n]*\n\s*")


def _tag(kind: str, name: str) -> Token:
    return {"type": kind, "name": name, "data": {}}


class _Frame:
    """An element open in the input, and what of it is open in the output."""

    __slots__ = ("context", "in_run", "is_open", "kind", "name", "open_inline")

    def __init__(self, name: str, kind: int, context: _Frame | None) -> None:
        self.name = name
        self.kind = kind
        #: The nearest enclosing element that is not inline.
        self.context = context
        #: Whether our output has this element open (inline elements cut by a block are not).
        self.is_open = True
        #: For a flow container: our <p> is open. For other blocks: their text has started.
        self.in_run = False
        #: Inline elements open in the output inside this block's current run, outermost first.
        self.open_inline: list[_Frame] = []


class _ParagraphFilter(Filter):
    """wpautop as a token filter: a blank line separates ``<p>``, a single newline is ``<br>``.

    Paragraphs are opened only where a ``<p>`` may stand (the top level, ``blockquote`` and
    other flow containers) and closed before any block, so the output parses back to the same
    tree. Inside an open inline element (an unclosed ``<b>``) a blank line is two ``<br>``
    instead, and an inline element cut by a block is not reopened after it: reopening would
    let a few bytes of input multiply into megabytes of output.
    """

    def __iter__(self) -> Iterator[Token]:
        root = _Frame("", _FLOW, None)
        self.stack = [root]
        self.context = root
        self.owed_breaks = 0
        self.after_break = False
        text: list[str] = []
        for token in super().__iter__():
            kind = token["type"]
            if kind in ("Characters", "SpaceCharacters"):
                text.append(token["data"])
                continue
            if text:
                yield from self._text("".join(text))
                text.clear()
            if kind == "StartTag":
                yield from self._start(token)
            elif kind == "EmptyTag":
                yield from self._empty(token)
            elif kind == "EndTag":
                yield from self._end(token["name"])
            elif kind == "Entity":
                yield from self._inline()
                self.after_break = False
                yield token
        if text:
            yield from self._text("".join(text))
        while len(self.stack) > 1:
            yield from self._pop()
        yield from self._close_run(root)

    def _inline(self) -> Iterator[Token]:
        """Prepare for inline content: open a <p> if needed and pay owed <br>s."""
        context = self.context
        if context.kind == _FLOW and not context.in_run:
            yield _tag("StartTag", "p")
            self.owed_breaks = 0
        context.in_run = True
        for _ in range(self.owed_breaks):
            yield _tag("EmptyTag", "br")
        self.owed_breaks = 0

    def _close_run(self, context: _Frame) -> Iterator[Token]:
        """End the paragraph (or text run) of a block, closing inline elements open in it."""
        if context.in_run:
            for frame in reversed(context.open_inline):
                yield _tag("EndTag", frame.name)
                frame.is_open = False
            context.open_inline.clear()
            if context.kind == _FLOW:
                yield _tag("EndTag", "p")
            context.in_run = False
        self.owed_breaks = 0
        self.after_break = False

    def _text(self, data: str) -> Iterator[Token]:
        context = self.context
        if context.kind in (_LIST, _PRE):
            yield {"type": "Characters", "data": data}
            return
        position = 0
        for match in _NEWLINES_RE.finditer(data):
            yield from self._words(data[position : match.start()])
            position = match.end()
            if match.group().count("\n") > 1:
                if context.kind == _FLOW and not context.open_inline:
                    yield from self._close_run(context)
                elif context.in_run:
                    self.owed_breaks = 2
            elif context.in_run and not self.after_break:
                self.owed_breaks = max(self.owed_breaks, 1)
        yield from self._words(data[position:])

    def _words(self, data: str) -> Iterator[Token]:
        if not self.context.in_run:
            data = data.lstrip()
        if data:
            yield from self._inline()
            self.after_break = False
            yield {"type": "Characters", "data": data}

    def _start(self, token: Token) -> Iterator[Token]:
        frame = _Frame(token["name"], _TAG_KINDS.get(token["name"], _INLINE), self.context)
        if frame.kind == _INLINE:
            yield from self._inline()
            self.after_break = False
            self.context.open_inline.append(frame)
        else:
            yield from self._close_run(self.context)
            self.context = frame
        self.stack.append(frame)
        yield token

    def _empty(self, token: Token) -> Iterator[Token]:
        if _TAG_KINDS.get(token["name"], _INLINE) == _INLINE:
            yield from self._inline()
            yield token
            self.after_break = token["name"] == "br"
        else:
            yield from self._close_run(self.context)
            yield token

    def _end(self, name: str) -> Iterator[Token]:
        # html5lib's tree walker always nests properly, so the loop is a safety net.
        if self.stack[-1].name != name and all(f.name != name for f in self.stack[1:]):
            return
        while self.stack[-1].name != name:
            yield from self._pop()
        yield from self._pop()

    def _pop(self) -> Iterator[Token]:
        frame = self.stack.pop()
        parent = frame.context or self.stack[0]
        if frame.kind == _INLINE:
            if frame.is_open:
                if parent.open_inline[-1] is frame:  # always, for properly nested input
                    parent.open_inline.pop()
                else:
                    parent.open_inline.remove(frame)
                yield _tag("EndTag", frame.name)
        else:
            yield from self._close_run(frame)
            yield _tag("EndTag", frame.name)
            self.context = parent


def _linkify_filter() -> Callable[..., Filter]:
    return partial(
        LinkifyFilter,
        callbacks=[_link_attributes],
        skip_tags={"code", "pre"},
        parse_email=False,
        url_re=_LINKIFY_URL_RE,
    )


#: Only text that says it is a link (a scheme or "www.") becomes one: bleach's default would
#: also link "setup.py" and "README.md", which in a tech blog's comments are file names.
_LINKIFY_URL_RE = re.compile(
    r"""\(*\b(?:https?://|www\.)[^\s<>"'`{}|\\^\[\]]*[^\s<>"'`{}|\\^\[\].,;:!?]""",
    re.IGNORECASE,
)


def _link_attributes(attrs: dict[Any, str], is_new: bool) -> dict[Any, str] | None:
    """Every commenter link gets rel="nofollow ugc"; a linkified URL must pass the URL check."""
    href = attrs.get((None, "href"))
    if href is None:
        attrs.pop((None, "rel"), None)  # an anchor without a link, e.g. its href was refused
        return attrs
    if is_new and not _is_commenter_url(href):
        return None  # leave it as text
    attrs[(None, "rel")] = "nofollow ugc"
    return attrs


#: What HTML allows in ``datetime`` on ``<del>``/``<ins>``: a date, or a date and time (at
#: most three fraction digits) with its offset. Anything else is dropped, as a bad URL is,
#: so a page never carries an invalid value (tests/browser/test_page_checks.py).
_DATETIME_RE = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?(?:Z|[+-]\d\d:?\d\d))?",
    re.ASCII,
)


def _comment_cleaner(whitelist: Whitelist) -> _SinglePassCleaner:
    def allowed(tag: str, name: str, value: str) -> bool:
        if tag in _LINE_BREAK_TAGS or name not in whitelist.get(tag, ()):
            return False
        if name == "datetime":
            return _DATETIME_RE.fullmatch(value) is not None
        return name not in _URL_ATTRIBUTES or _is_commenter_url(value)

    return _SinglePassCleaner(
        tags=frozenset(whitelist) | {"br"},
        attributes=allowed,
        parse_tags=DROPPED_WITH_CONTENT | {"p"},
        pre_filters=[partial(_DropContentFilter, paragraph_tags=frozenset({"p"}))],
        filters=[_linkify_filter(), _ParagraphFilter],
    )


class CommentSanitizer:
    """Owns a comment whitelist and turns raw comment text into HTML safe to store and print.

    The text is not Markdown: it is HTML-ish text as WordPress users type it. Tags outside the
    whitelist are stripped (their text kept), script-like elements are dropped with their
    content, links must be absolute http(s)/mailto and get rel="nofollow ugc", bare URLs are
    linked, and line breaks become ``<p>``/``<br>`` like WordPress's wpautop. Safe to share
    between threads (each thread gets its own parser).
    """

    whitelist: Whitelist

    def __init__(self, whitelist: Whitelist = DEFAULT_COMMENT_WHITELIST) -> None:
        _check_whitelist(whitelist)
        self.whitelist = MappingProxyType({tag: frozenset(a) for tag, a in whitelist.items()})
        self._cleaners = _PerThread(partial(_comment_cleaner, self.whitelist))

    def __repr__(self) -> str:
        return f"CommentSanitizer({dict(self.whitelist)!r})"

    def clean(self, text: str) -> str:
        """Raw comment text -> safe HTML; "" for blank input."""
        if not text or text.isspace():
            return ""
        return self._cleaners.value.clean(text).strip()


@lru_cache(maxsize=32)
def _sanitizer_for(key: tuple[tuple[str, tuple[str, ...]], ...]) -> CommentSanitizer:
    return CommentSanitizer({tag: frozenset(attributes) for tag, attributes in key})


def sanitize_comment(text: str, whitelist: Whitelist = DEFAULT_COMMENT_WHITELIST) -> str:
    """``CommentSanitizer(whitelist).clean(text)``, reusing one sanitizer per whitelist."""
    key = tuple(sorted((tag, tuple(sorted(attrs))) for tag, attrs in whitelist.items()))
    return _sanitizer_for(key).clean(text)


# --------------------------------------------------------------------------------------------
# Bounds on what the parser is given
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkupLimits:
    """How much markup one text may hold before it is refused unparsed.

    html5lib's work grows with more than the length: an end tag scans the stack of open
    elements, misnested formatting elements are rebuilt at every paragraph, and each ``<``,
    ``&``, line break and bare link is a step or a token of its own. Within these limits a
    65,525-character comment sanitizes in a bounded number of steps (tests/test_sanitize_
    limits.py counts them); past them it is refused with the limit named, before any parse.
    """

    tags: int = 1000  # "<" characters: every tag starts with one, and each costs a token
    depth: int = 50  # elements open inside one another
    entities: int = 1000  # "&" characters
    line_breaks: int = 1000
    links: int = 200  # bare addresses the linkifier would turn into links


COMMENT_MARKUP_LIMITS = MarkupLimits()

_TAG_OPEN_RE = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
_BARE_LINK_RE = re.compile(r"https?://|www\.", re.IGNORECASE)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip


def _nesting_depth(text: str, stop_at: int) -> int:
    """How deep elements nest, the way a parser's stack of open elements grows: an end tag
    closes up to the nearest open element of its name and is ignored when there is none.
    Stops counting past ``stop_at``, so the scan itself stays linear."""
    stack: list[str] = []
    deepest = 0
    for match in _TAG_OPEN_RE.finditer(text):
        name = match.group(2).lower()
        if name in _VOID_TAGS:
            continue
        if match.group(1):
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
            continue
        stack.append(name)
        deepest = max(deepest, len(stack))
        if deepest > stop_at:
            break
    return deepest


def markup_problems(text: str, limits: MarkupLimits = COMMENT_MARKUP_LIMITS) -> list[str]:
    """What in ``text`` passes ``limits``, in words for the writer (empty when nothing)."""
    problems = []
    for count, limit, what in (
        (text.count("<"), limits.tags, "“<” characters (each HTML tag has one)"),
        (text.count("&"), limits.entities, "“&” characters (each entity has one)"),
        (text.count("\n"), limits.line_breaks, "line breaks"),
        (len(_BARE_LINK_RE.findall(text)), limits.links, "web addresses"),
    ):
        if count > limit:
            problems.append(f"has {count:,} {what}; the limit is {limit:,}")
    if not problems:
        depth = _nesting_depth(text, limits.depth)
        if depth > limits.depth:
            problems.append(
                f"nests HTML elements more than {limits.depth} deep; the limit is {limits.depth}"
            )
    return problems


class _LinkCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and any(name == "href" for name, _ in attrs):
            self.links += 1


def count_links(html_text: str) -> int:
    """How many links (``<a href>``, typed or linkified) sanitized comment HTML contains."""
    counter = _LinkCounter()
    counter.feed(html_text)
    counter.close()
    return counter.links


# --------------------------------------------------------------------------------------------
# Posts
# --------------------------------------------------------------------------------------------

#: class values the Markdown extensions emit; anything else would borrow the site's styles.
_AUTHOR_CLASSES = {
    "a": re.compile(r"footnote-(?:ref|backref)"),
    "th": re.compile(r"align-(?:left|center|right)"),
    "td": re.compile(r"align-(?:left|center|right)"),
    "code": re.compile(r"language-[\w+#.-]+"),
    "div": re.compile(r"footnote"),
    "span": re.compile(r"[\w-]+(?: [\w-]+)*"),
}
#: ids only as the footnotes extension makes them ("fn:1", "fnref:1", "fnref2:1"): the colon
#: keeps them from clobbering the page's own ids or JavaScript globals.
_FOOTNOTE_ID_RE = re.compile(r"fn(?:ref\d*)?:.+", re.DOTALL)


def _author_attribute(tag: str, name: str, value: str) -> bool:
    if name not in AUTHOR_WHITELIST.get(tag, ()):
        return False
    if name in _URL_ATTRIBUTES:
        return _is_author_url(value)
    if name == "class":
        pattern = _AUTHOR_CLASSES.get(tag)
        return pattern is not None and pattern.fullmatch(value) is not None
    if name == "id":
        return _FOOTNOTE_ID_RE.fullmatch(value) is not None
    if name == "srcset":
        return _is_srcset(value)
    if name == "sizes":
        return _SIZES_RE.fullmatch(value) is not None and "url" not in value
    if name in ("width", "height"):
        return value.isascii() and value.isdecimal() and len(value) <= 5
    if name == "datetime":
        return _DATETIME_RE.fullmatch(value) is not None
    return True


#: One srcset candidate's descriptor: a width ("480w") or a density ("2x").
_SRCSET_DESCRIPTOR_RE = re.compile(r"\d{1,5}w|\d{1,2}(?:\.\d{1,2})?x", re.ASCII)
#: ``sizes``: media conditions and lengths only (no url(), no quotes, no functions but calc).
_SIZES_RE = re.compile(r"[a-z0-9 ().,:%+*/-]{1,300}", re.ASCII)


def _is_srcset(value: str) -> bool:
    """A srcset of "URL descriptor" candidates, each URL allowed as a post's ``src`` is."""
    candidates = [part.strip() for part in value.split(",")]
    if not 0 < len(candidates) <= 20:
        return False
    for candidate in candidates:
        url, _, descriptor = candidate.partition(" ")
        if not url or not _is_author_url(url) or "," in url:
            return False
        if descriptor.strip() and not _SRCSET_DESCRIPTOR_RE.fullmatch(descriptor.strip()):
            return False
    return True


class _FocusableCodeBlocks(Filter):
    """``<pre tabindex="0">``: a code block wider than the page scrolls sideways, and a
    keyboard user can scroll only what can take the focus (WCAG 2.1.1; axe-core's
    scrollable-region-focusable). Set here, after the whitelist, so authors cannot set
    tabindex themselves."""

    def __iter__(self) -> Iterator[Token]:
        for token in super().__iter__():
            if token["type"] == "StartTag" and token["name"] == "pre":
                token["data"][(None, "tabindex")] = "0"
            yield token


def _author_cleaner() -> _SinglePassCleaner:
    return _SinglePassCleaner(
        tags=frozenset(AUTHOR_WHITELIST),
        attributes=_author_attribute,
        parse_tags=DROPPED_WITH_CONTENT,
        pre_filters=[partial(_DropContentFilter, paragraph_tags=frozenset())],
        filters=[_FocusableCodeBlocks],
    )


_author_cleaners = _PerThread(_author_cleaner)


def _wordpress_cleaner() -> _SinglePassCleaner:
    return _SinglePassCleaner(
        tags=frozenset(AUTHOR_WHITELIST),
        attributes=_author_attribute,
        parse_tags=DROPPED_WITH_CONTENT,
        pre_filters=[partial(_DropContentFilter, paragraph_tags=frozenset())],
        filters=[_ParagraphFilter, _FocusableCodeBlocks],
    )


_wordpress_cleaners = _PerThread(_wordpress_cleaner)


def render_wordpress_html(text: str) -> str:
    """A body as WordPress stores it (HTML where blank lines make paragraphs, block-editor
    comments, shortcodes) -> safe HTML, through the authors' whitelist.

    Paragraphs are made as WordPress's wpautop makes them on display; the block editor's
    ``<!-- wp:... -->`` comments go as every comment does; shortcodes stay as the text they
    are (nothing here runs them).
    """
    if not text or text.isspace():
        return ""
    return _wordpress_cleaners.value.clean(text).strip()


_LIST_ITEM_RE = re.compile(r"^( *)([-*+]|\d{1,9}[.)])( +|$)(.*)$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass
class _OpenItem:
    marker: int  # the column of its marker
    text: int  # the column its text starts at: deeper lines belong to it
    ordered: bool
    loose: bool = False  # a blank line inside it


class _ListIndents(markdown.preprocessors.Preprocessor):
    """Lists as people write them today (and as CommonMark reads them), for Python-Markdown,
    which nests only at four spaces and runs a numbered list on after a bullet list.

    An item nests under the one above when it is indented to that item's text (two spaces
    under "- ", three under "1. "), and its lines are re-indented by four spaces a level;
    a list of the other kind right after a list starts a new list, and an item after a
    paragraph of a loose item starts a new item (a blank line is put in between). Fenced
    code, and everything outside lists, is left as it is. (Fenced code inside a list item
    is what Python-Markdown cannot do; indented code there works.)
    """

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        stack: list[_OpenItem] = []
        fence = ""
        blank_before = True
        for line in lines:
            if fence:
                out.append(line)
                if line.strip().startswith(fence):
                    fence = ""
                continue
            if not line.strip():
                out.append(line)
                blank_before = True
                if stack:
                    stack[-1].loose = True
                continue
            indent = len(line) - len(line.lstrip(" "))
            item = _LIST_ITEM_RE.match(line)
            if item is not None and (stack or indent < 4):
                column = len(item.group(1))
                sibling = None
                while stack and column < stack[-1].text:  # not inside the item above
                    closed = stack.pop()
                    if column >= closed.marker:
                        sibling = closed
                        break
                marker, gap, text = item.group(2), item.group(3), item.group(4)
                ordered = marker[0].isdigit()
                if sibling and not blank_before and (sibling.ordered != ordered or sibling.loose):
                    out.append("")
                depth = len(stack)
                stack.append(_OpenItem(column, column + len(marker) + max(len(gap), 1), ordered))
                out.append((" " * (4 * depth) + f"{marker} {text}").rstrip())
                blank_before = False
                continue
            holders = [entry for entry in stack if indent >= entry.text]
            if holders:
                # A line of an item's text, under the innermost item it is indented to.
                line = " " * (4 * len(holders)) + line[holders[-1].text :]
            elif stack and blank_before:
                stack.clear()  # a paragraph after the list: the list has ended
            opening = _FENCE_RE.match(line)
            if opening:
                fence = opening.group(1)
            out.append(line)
            blank_before = False
        return out


class _AlignAsClass(markdown.treeprocessors.Treeprocessor):
    """A table column's alignment as ``class="align-center"`` (``align`` is obsolete HTML,
    and the stylesheet would override it)."""

    def run(self, root: Any) -> None:
        for cell in (*root.iter("th"), *root.iter("td")):
            align = cell.attrib.pop("align", None)
            if align in ("left", "center", "right"):
                cell.set("class", f"align-{align}")


class _ResponsiveImages(markdown.treeprocessors.Treeprocessor):
    """An uploaded image (``![alt](/uploads/...)``) gets its width, height, srcset and sizes
    from the facts the caller looked up, so readers' browsers fetch the copy that fits and
    reserve its room before it arrives. Raw HTML ``<img>`` is left as the author wrote it."""

    def __init__(self, md: markdown.Markdown, images: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__(md)
        self.images = images

    def run(self, root: Any) -> None:
        for img in root.iter("img"):
            facts = self.images.get(img.get("src", ""))
            if not facts:
                continue
            width = int(facts["width"])
            img.set("width", str(width))
            img.set("height", str(int(facts["height"])))
            if "srcset" in facts and "," in facts["srcset"]:
                img.set("srcset", facts["srcset"])
                img.set("sizes", f"(max-width: {width}px) 100vw, {width}px")


class _AsPeopleWrite(markdown.Extension):
    def __init__(self, images: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self.images = images or {}

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's name
        md.preprocessors.register(_ListIndents(md), "list_indents", 35)
        md.treeprocessors.register(_AlignAsClass(md), "align_as_class", 5)
        if self.images:
            # After the inline patterns (20), which turn ![alt](src) into <img>.
            md.treeprocessors.register(_ResponsiveImages(md, self.images), "images", 4)


def render_markdown(text: str, images: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A post's Markdown -> safe HTML. Raw HTML in the Markdown goes through the same cleaner.

    ``images`` maps an uploaded image's address to its ``width``, ``height`` and ``srcset``
    (``blog.services.media.images_in``): those images are written responsive."""
    # A Markdown instance keeps per-document state (footnotes): a fresh one is ~0.1 ms.
    converter = markdown.Markdown(
        extensions=["fenced_code", "tables", "footnotes", "sane_lists", _AsPeopleWrite(images)],
        extension_configs=_MARKDOWN_CONFIG,
    )
    return _author_cleaners.value.clean(converter.convert(text))


def render_markdown_job(job: list[Any]) -> str:
    """``render_markdown(text, images)`` from one JSON value, for a TimeBox helper process."""
    text, images = job
    return render_markdown(text, images)


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


class _TextReader:
    """Parses HTML as a browser would, decoding entities; used only to extract text."""

    def __init__(self) -> None:
        self.parser = BleachHTMLParser(
            tags=None, strip=False, consume_entities=True, namespaceHTMLElements=False
        )
        self.walker = getTreeWalker("etree")

    def text(self, html_text: str, skip: frozenset[str] = frozenset()) -> str:
        """The words of ``html_text``; elements named in ``skip`` (a tag, or "tag.class")
        are left out with everything inside them."""
        parts: list[str] = []
        skipping = 0
        for token in self.walker(self.parser.parseFragment(html_text)):
            kind = token["type"]
            if skipping:
                skipping += {"StartTag": 1, "EndTag": -1}.get(kind, 0)
            elif kind in ("Characters", "SpaceCharacters"):
                parts.append(token["data"])
            elif kind in ("StartTag", "EndTag", "EmptyTag"):
                name = token["name"]
                if kind == "StartTag" and (
                    name in DROPPED_WITH_CONTENT or _skipped(name, token["data"], skip)
                ):
                    skipping = 1
                elif name == "br" or _TAG_KINDS.get(name, _INLINE) != _INLINE:
                    parts.append(" ")  # block boundaries separate words
        return " ".join("".join(parts).split())

    def prose(self, html_text: str, skip: frozenset[str]) -> tuple[list[str], bool]:
        """The text of each paragraph of ``html_text`` (at the top, or in a top-level
        quote), in order, and whether anything else holds words (a heading, a list, code).
        Elements named in ``skip`` are left out of paragraphs, as in ``text``."""
        paragraphs: list[str] = []
        other = False
        open_tags: list[str] = []
        current: list[str] | None = None
        skipping = 0
        for token in self.walker(self.parser.parseFragment(html_text)):
            kind = token["type"]
            if skipping:
                skipping += {"StartTag": 1, "EndTag": -1}.get(kind, 0)
                continue
            if kind == "StartTag":
                name = token["name"]
                if name in DROPPED_WITH_CONTENT or _skipped(name, token["data"], skip):
                    skipping = 1
                    other = other or name != "a"  # a footnote's mark is not; its note is
                    continue
                if name == "p" and (not open_tags or open_tags == ["blockquote"]):
                    current = []
                open_tags.append(name)
            elif kind == "EndTag":
                if open_tags:
                    open_tags.pop()
                if token["name"] == "p" and current is not None and len(open_tags) <= 1:
                    text = " ".join("".join(current).split())
                    if text:
                        paragraphs.append(text)
                    current = None
            elif kind == "EmptyTag" and token["name"] == "br" and current is not None:
                current.append(" ")
            elif kind in ("Characters", "SpaceCharacters"):
                if current is not None:
                    current.append(token["data"])
                elif token["data"].strip():
                    other = True  # words outside any paragraph: a heading, a list item
        return paragraphs, other


def _skipped(name: str, attributes: dict[Any, str], skip: frozenset[str]) -> bool:
    if name in skip:
        return True
    classes = attributes.get((None, "class"), "").split()
    return any(f"{name}.{cls}" in skip for cls in classes)


_text_readers = _PerThread(_TextReader)


def plain_text(html_text: str, limit: int | None = None) -> str:
    """Text of some HTML, for excerpts and emails (never for storing as HTML).

    With ``limit``, the result is at most that long: cut at a word boundary, ending in "…".
    """
    text = _text_readers.value.text(html_text) if html_text else ""
    return _shorten(text, limit)


# What a summary leaves out of a rendered post: code, tables, footnote marks and notes.
_NOT_IN_SUMMARY = frozenset({"pre", "table", "a.footnote-ref", "div.footnote", "figure"})


def summary(html_text: str, limit: int) -> str:
    """A post's automatic excerpt (``excerpt``'s text)."""
    return excerpt(html_text, limit)[0]


def excerpt(html_text: str, limit: int) -> tuple[str, bool]:
    """A post's automatic excerpt, read as prose: its first paragraphs, whole, as many as
    fit in ``limit`` characters (the first one cut at a word when it alone is longer);
    headings, lists, code, tables and footnotes left out. With it, whether it is the whole
    post (every word of it in paragraphs, all of them in), so a list can show the post
    itself instead of an excerpt and a "Continue reading" that leads nowhere new.

    A post with no paragraph at all (a list, say) is summed up by its text, as before."""
    if not html_text:
        return "", True
    paragraphs, other = _text_readers.value.prose(html_text, _NOT_IN_SUMMARY)
    if not paragraphs:
        text = _text_readers.value.text(html_text, _NOT_IN_SUMMARY)
        return _shorten(text, limit), False
    taken: list[str] = []
    for paragraph in paragraphs:
        joined = " ".join([*taken, paragraph])
        if len(joined) <= limit:
            taken.append(paragraph)
            continue
        if not taken:
            return _shorten(paragraph, limit), False
        break
    text = " ".join(taken)
    return text, len(taken) == len(paragraphs) and not other


def _shorten(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    if limit < 1:
        return ""
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"
