"""Reading WordPress eXtended RSS (WXR 1.0, 1.1, 1.2): a file in, plain records out.

Pure: no Flask, no database. The file is streamed (lxml's ``iterparse``, each channel
child dropped once read), so memory follows the largest item, not the file. It is
untrusted: a DTD of any kind is refused before the parser sees the file (WordPress never
writes one; one is how entity expansion and external entities get in), and the parser
itself resolves no entity, loads no DTD and touches no network.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lxml import etree

#: The ``wp`` namespace as WordPress has written it over the years (1.0, 1.1, 1.2; http or
#: https), and its ``excerpt`` companion.
_WP_NS_RE = re.compile(r"^https?://wordpress\.org/export/1\.\d+/$")
_EXCERPT_NS_RE = re.compile(r"^https?://wordpress\.org/export/1\.\d+/excerpt/$")
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
ATOM_NS = "http://www.w3.org/2005/Atom"

#: The channel's own RSS elements that are kept (the first of each).
_CHANNEL_FIELDS = ("title", "link", "description", "language")
#: How much of the file's start is read to find its root element (the prolog of comments,
#: as WordPress writes it, is under 2 KB).
_PROLOG_LIMIT = 1 << 20


class WxrRefused(Exception):
    """The file is not a WXR export this importer will read; nothing was imported."""

    def __init__(self, message: str, line: int | None = None, item: str = "") -> None:
        where = []
        if line:
            where.append(f"line {line}")
        if item:
            where.append(item)
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.line = line
        self.item = item


@dataclass
class Channel:
    title: str = ""
    link: str = ""
    base_site_url: str = ""
    base_blog_url: str = ""
    wxr_version: str = ""
    description: str = ""
    language: str = ""

    @property
    def source(self) -> str:
        """Names the exporting site: what ids in the file are unique within. Its address
        and its title, as sites on a developer's machine all live at http://localhost/."""
        url = (self.base_blog_url or self.link or self.base_site_url).rstrip("/")
        return f"{url} {self.title.strip()}".strip()[:300]


@dataclass
class Author:
    login: str
    email: str = ""
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    line: int = 0
    id: str = ""


@dataclass
class Term:
    taxonomy: str  # "category" or "post_tag" (others are read and reported)
    slug: str
    name: str = ""
    parent: str = ""  # the parent's slug
    description: str = ""
    line: int = 0
    id: str = ""


@dataclass
class ItemTerm:
    taxonomy: str
    slug: str
    name: str


@dataclass
class Comment:
    id: str
    author: str = ""
    email: str = ""
    url: str = ""
    ip: str = ""
    user_agent: str = ""
    date: str = ""
    date_gmt: str = ""
    content: str = ""
    approved: str = ""
    type: str = ""
    parent: str = ""
    line: int = 0
    user_id: str = ""


@dataclass
class Item:
    title: str = ""
    link: str = ""
    guid: str = ""
    creator: str = ""
    content: str = ""
    excerpt: str = ""
    post_id: str = ""
    date: str = ""
    date_gmt: str = ""
    modified: str = ""
    modified_gmt: str = ""
    comment_status: str = ""
    name: str = ""  # the slug, percent-encoded as WordPress keeps non-ASCII ones
    status: str = ""
    parent: str = ""
    type: str = ""
    password: str = ""
    sticky: str = ""
    attachment_url: str = ""
    terms: list[ItemTerm] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    line: int = 0

    def label(self) -> str:
        kind = self.type or "item"
        return f"{kind} {self.post_id or '?'} ({self.title[:60]!r})"


Record = Channel | Author | Term | Item


def _refuse_prolog(head: bytes) -> bytes:
    """Check what comes before the root element; returns the bytes to parse in its place.

    WordPress.com exports use an ``atom:`` prefix without declaring it; the declaration is
    added to the root element, as WordPress's own importer tolerates the file.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:4] in (
        b"\x00\x00\xfe\xff",
        b"\xff\xfe\x00\x00",
    ):
        raise WxrRefused("the file is UTF-16 or UTF-32; WordPress exports are UTF-8.")
    position = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while True:
        start = head.find(b"<", position)
        if start < 0:
            raise WxrRefused("no root element: this is not an XML file, or it is cut short.")
        if head.startswith(b"<?", start):
            end = head.find(b"?>", start)
        elif head.startswith(b"<!--", start):
            end = head.find(b"-->", start)
        elif head[start : start + 9].upper() == b"<!DOCTYPE":
            line = head.count(b"\n", 0, start) + 1
            raise WxrRefused(
                "the file declares a DTD (<!DOCTYPE>). WordPress exports have none, and a DTD "
                "is how entity expansion (billion laughs) and external entities (reading local "
                "files, fetching URLs) get into XML, so it is refused.",
                line=line,
            )
        elif head.startswith(b"<!", start):
            raise WxrRefused("unexpected markup before the root element.")
        else:
            break
        if end < 0:
            raise WxrRefused("the file's prolog is cut short.")
        position = end + 2
    end = head.find(b">", start)
    if end < 0:
        raise WxrRefused("the root element's start tag is cut short.")
    root_tag = head[start:end]
    if not re.match(rb"<rss[\s>/]", root_tag + b">"):
        name = re.match(rb"<([^\s>/]*)", root_tag)
        found = name.group(1).decode("utf-8", "replace") if name else "?"
        raise WxrRefused(f"the root element is <{found}>, not <rss>: this is not a WXR export.")
    if b"xmlns:atom" not in root_tag:
        head = head[:end] + f' xmlns:atom="{ATOM_NS}"'.encode() + head[end:]
    return head


class _Joined(io.RawIOBase):
    """The checked prolog, then the rest of the file, as one stream; counts what is read."""

    def __init__(self, head: bytes, rest: BinaryIO, on_read: Callable[[int], None]) -> None:
        self.head = head
        self.rest = rest
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
        else:
            data = self.rest.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.on_read(n)
        return n


def _local(element: etree._Element) -> tuple[str, str]:
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


def _text(element: etree._Element) -> str:
    return element.text or ""


def _wp_fields(element: etree._Element) -> dict[str, str]:
    """The ``wp:`` children of an element as {local name: text}; other children ignored."""
    values: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        namespace, name = _local(child)
        if _WP_NS_RE.match(namespace):
            values.setdefault(name, _text(child))
    return values


def _author(element: etree._Element) -> Author:
    f = _wp_fields(element)
    return Author(
        login=f.get("author_login", "").strip(),
        email=f.get("author_email", "").strip(),
        display_name=f.get("author_display_name", "").strip(),
        first_name=f.get("author_first_name", "").strip(),
        last_name=f.get("author_last_name", "").strip(),
        line=element.sourceline or 0,
        id=f.get("author_id", "").strip(),
    )


def _term(kind: str, element: etree._Element) -> Term:
    f = _wp_fields(element)
    line = element.sourceline or 0
    if kind == "category":
        return Term(
            "category",
            f.get("category_nicename", "").strip(),
            f.get("cat_name", ""),
            f.get("category_parent", "").strip(),
            f.get("category_description", ""),
            line,
            f.get("term_id", "").strip(),
        )
    if kind == "tag":
        return Term(
            "post_tag",
            f.get("tag_slug", "").strip(),
            f.get("tag_name", ""),
            "",
            f.get("tag_description", ""),
            line,
            f.get("term_id", "").strip(),
        )
    return Term(
        f.get("term_taxonomy", "").strip(),
        f.get("term_slug", "").strip(),
        f.get("term_name", ""),
        f.get("term_parent", "").strip(),
        f.get("term_description", ""),
        line,
        f.get("term_id", "").strip(),
    )


def _comment(element: etree._Element) -> Comment:
    f = _wp_fields(element)
    return Comment(
        id=f.get("comment_id", "").strip(),
        author=f.get("comment_author", ""),
        email=f.get("comment_author_email", ""),
        url=f.get("comment_author_url", ""),
        ip=f.get("comment_author_IP", "").strip(),
        user_agent=f.get("comment_agent", ""),
        date=f.get("comment_date", "").strip(),
        date_gmt=f.get("comment_date_gmt", "").strip(),
        content=f.get("comment_content", ""),
        approved=f.get("comment_approved", "").strip(),
        type=f.get("comment_type", "").strip(),
        parent=f.get("comment_parent", "").strip(),
        line=element.sourceline or 0,
        user_id=f.get("comment_user_id", "").strip(),
    )


def _item(element: etree._Element) -> Item:
    item = Item(line=element.sourceline or 0)
    wp: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        namespace, name = _local(child)
        if _WP_NS_RE.match(namespace):
            if name == "comment":
                item.comments.append(_comment(child))
            elif name == "postmeta":
                meta = _wp_fields(child)
                key = meta.get("meta_key", "")
                if key and key not in item.meta:
                    item.meta[key] = meta.get("meta_value", "")
            else:
                wp.setdefault(name, _text(child))
        elif namespace == "" and name == "title":
            item.title = _text(child)
        elif namespace == "" and name == "link":
            item.link = _text(child).strip()
        elif namespace == "" and name == "guid":
            item.guid = _text(child).strip()
        elif namespace == "" and name == "category":
            item.terms.append(
                ItemTerm(
                    child.get("domain", "category"),
                    (child.get("nicename") or "").strip(),
                    _text(child),
                )
            )
        elif namespace == CONTENT_NS and name == "encoded":
            item.content = _text(child)
        elif _EXCERPT_NS_RE.match(namespace) and name == "encoded":
            item.excerpt = _text(child)
        elif namespace == DC_NS and name == "creator":
            item.creator = _text(child).strip()
    item.post_id = wp.get("post_id", "").strip()
    item.date = wp.get("post_date", "").strip()
    item.date_gmt = wp.get("post_date_gmt", "").strip()
    item.modified = wp.get("post_modified", "").strip()
    item.modified_gmt = wp.get("post_modified_gmt", "").strip()
    item.comment_status = wp.get("comment_status", "").strip()
    item.name = wp.get("post_name", "").strip()
    item.status = wp.get("status", "").strip()
    item.parent = wp.get("post_parent", "").strip()
    item.type = wp.get("post_type", "").strip()
    item.password = wp.get("post_password", "")
    item.sticky = wp.get("is_sticky", "").strip()
    item.attachment_url = wp.get("attachment_url", "").strip()
    return item


def read(
    path: Path, max_bytes: int, on_read: Callable[[int], None] = lambda n: None
) -> Iterator[Record]:
    """The records of a WXR file in file order: the channel first, then authors, terms and
    items as they come. Raises WxrRefused (with the line) for a file it will not read."""
    size = path.stat().st_size
    if size > max_bytes:
        raise WxrRefused(f"the file is {size:,} bytes; the limit (WXR_MAX_BYTES) is {max_bytes:,}.")
    with path.open("rb") as raw:
        head = _refuse_prolog(raw.read(_PROLOG_LIMIT))
        stream = io.BufferedReader(_Joined(head, raw, on_read))
        yield from _records(stream)


def _records(stream: BinaryIO) -> Iterator[Record]:
    parser = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    channel: Channel | None = Channel()
    depth = 0
    channel_seen = False
    try:
        for event, element in parser:
            if event == "start":
                depth += 1
                if depth == 1 and _local(element) != ("", "rss"):
                    raise WxrRefused("the root element is not <rss>.", element.sourceline)
                if depth == 2 and _local(element) == ("", "channel"):
                    channel_seen = True
                continue
            depth -= 1
            if depth != 2 or not channel_seen:
                continue
            namespace, name = _local(element)
            record: Record | None = None
            if namespace == "" and name == "item":
                record = _item(element)
            elif _WP_NS_RE.match(namespace):
                if name in ("wxr_version", "base_site_url", "base_blog_url"):
                    if channel is not None:
                        setattr(channel, name, _text(element).strip())
                elif name == "author":
                    record = _author(element)
                elif name in ("category", "tag", "term"):
                    record = _term(name, element)
            elif namespace == "" and channel is not None and name in _CHANNEL_FIELDS:
                if not getattr(channel, name):
                    setattr(channel, name, _text(element).strip())
            if record is not None:
                if channel is not None:
                    # The channel's own fields come first in every export WordPress writes.
                    yield channel
                    channel = None
                yield record
            # What was read is dropped: memory follows one item, not the file.
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        message = error.msg or str(error)
        if "entity" in message.lower():
            message += " (entities other than XML's own are refused)"
        raise WxrRefused(f"the XML is not well-formed: {message}", line) from None
    if not channel_seen:
        raise WxrRefused("there is no <channel> in <rss>: this is not a WXR export.")
    if channel is not None:
        yield channel


# --- writing ------------------------------------------------------------------------------

#: The post meta where our own export keeps a Markdown post's source: WordPress shows the
#: item's HTML; this blog's importer reads the Markdown back.
MARKDOWN_META = "_blog_markdown"
#: The namespaces of a WXR 1.2 file, as WordPress declares them.
WXR_VERSION = "1.2"
WP_NS = "http://wordpress.org/export/1.2/"
EXCERPT_NS = "http://wordpress.org/export/1.2/excerpt/"
#: What XML 1.0 cannot carry at all, not even as a character reference.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class WxrUnwritable(ValueError):
    """A value XML cannot carry; nothing is cut or changed to make it fit."""


def _checked(value: str, what: str) -> str:
    bad = _NOT_XML_RE.search(value)
    if bad is not None:
        raise WxrUnwritable(
            f"{what} holds the character U+{ord(bad.group()):04X}, which XML cannot carry."
        )
    return value


def cdata(value: str, what: str = "a value") -> str:
    """``value`` as CDATA; a ``]]>`` inside is split across two sections, as WordPress does,
    so the text reads back exactly."""
    return "<![CDATA[" + _checked(value, what).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _escaped(value: str, what: str = "a value") -> str:
    return _checked(value, what).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str, what: str = "a value") -> str:
    return _escaped(value, what).replace('"', "&quot;")


def rfc822(gmt: str) -> str:
    """RSS's date ("Thu, 03 Dec 2026 10:00:00 +0000") from WordPress's GMT date, or ""."""
    if not gmt or gmt.startswith("0000-00-00"):
        return ""
    from datetime import datetime

    when = datetime.strptime(gmt[:19], "%Y-%m-%d %H:%M:%S")
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[when.weekday()]}, {when.day:02d} {months[when.month - 1]} {when.year} "
        f"{when:%H:%M:%S} +0000"
    )


class Writer:
    """WordPress eXtended RSS 1.2, written record by record to a binary stream, the shape
    WordPress's own exporter gives (and its importer reads): the channel, then authors,
    terms (a category after its parent) and items with their comments. Nothing is held
    back: memory follows one item. Pure: records in, bytes out."""

    def __init__(self, out: BinaryIO, channel: Channel, generator: str = "") -> None:
        self.out = out
        self._write(
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            "<!-- This is a WordPress eXtended RSS file: an export of this site's authors,\n"
            "     terms, posts, pages, media and comments that WordPress can import. -->\n"
            '<rss version="2.0"\n'
            f'\txmlns:excerpt="{EXCERPT_NS}"\n'
            f'\txmlns:content="{CONTENT_NS}"\n'
            '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
            f'\txmlns:dc="{DC_NS}"\n'
            f'\txmlns:wp="{WP_NS}"\n'
            ">\n\n<channel>\n"
            f"\t<title>{_escaped(channel.title, 'the site title')}</title>\n"
            f"\t<link>{_escaped(channel.link)}</link>\n"
            f"\t<description>{_escaped(channel.description, 'the tagline')}</description>\n"
            f"\t<language>{_escaped(channel.language or 'en-US')}</language>\n"
            f"\t<wp:wxr_version>{WXR_VERSION}</wp:wxr_version>\n"
            f"\t<wp:base_site_url>{_escaped(channel.base_site_url)}</wp:base_site_url>\n"
            f"\t<wp:base_blog_url>{_escaped(channel.base_blog_url)}</wp:base_blog_url>\n\n"
        )
        self._generator = generator
        self._items_started = False

    def _write(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))

    def _fields(self, indent: str, pairs: Iterable[tuple[str, str, bool]]) -> str:
        """``<wp:name>value</wp:name>`` lines; CDATA where WordPress writes it."""
        return "".join(
            f"{indent}<wp:{name}>{cdata(value, name) if wrap else _escaped(value, name)}"
            f"</wp:{name}>\n"
            for name, value, wrap in pairs
        )

    def author(self, author: Author) -> None:
        self._write(
            "\t<wp:author>\n"
            + self._fields(
                "\t\t",
                (
                    ("author_id", author.id, False),
                    ("author_login", author.login, True),
                    ("author_email", author.email, True),
                    ("author_display_name", author.display_name, True),
                    ("author_first_name", author.first_name, True),
                    ("author_last_name", author.last_name, True),
                ),
            )
            + "\t</wp:author>\n"
        )

    def term(self, term: Term) -> None:
        if term.taxonomy == "category":
            fields = (
                ("term_id", term.id, False),
                ("category_nicename", term.slug, True),
                ("category_parent", term.parent, True),
                ("cat_name", term.name, True),
                ("category_description", term.description, True),
            )
            self._write("\t<wp:category>\n" + self._fields("\t\t", fields) + "\t</wp:category>\n")
        elif term.taxonomy == "post_tag":
            fields = (
                ("term_id", term.id, False),
                ("tag_slug", term.slug, True),
                ("tag_name", term.name, True),
                ("tag_description", term.description, True),
            )
            self._write("\t<wp:tag>\n" + self._fields("\t\t", fields) + "\t</wp:tag>\n")
        else:
            fields = (
                ("term_id", term.id, False),
                ("term_taxonomy", term.taxonomy, True),
                ("term_slug", term.slug, True),
                ("term_parent", term.parent, True),
                ("term_name", term.name, True),
                ("term_description", term.description, True),
            )
            self._write("\t<wp:term>\n" + self._fields("\t\t", fields) + "\t</wp:term>\n")

    def item(self, item: Item) -> None:
        if not self._items_started:
            self._items_started = True
            if self._generator:
                self._write(f"\n\t<generator>{_escaped(self._generator)}</generator>\n")
        label = item.label()
        parts = [
            "\n\t<item>\n",
            f"\t\t<title>{cdata(item.title, f'the title of {label}')}</title>\n",
            f"\t\t<link>{_escaped(item.link)}</link>\n",
            f"\t\t<pubDate>{rfc822(item.date_gmt)}</pubDate>\n",
            f"\t\t<dc:creator>{cdata(item.creator)}</dc:creator>\n",
            f'\t\t<guid isPermaLink="false">{_escaped(item.guid)}</guid>\n',
            "\t\t<description></description>\n",
            f"\t\t<content:encoded>{cdata(item.content, f'the body of {label}')}"
            "</content:encoded>\n",
            f"\t\t<excerpt:encoded>{cdata(item.excerpt, f'the excerpt of {label}')}"
            "</excerpt:encoded>\n",
            self._fields(
                "\t\t",
                (
                    ("post_id", item.post_id, False),
                    ("post_date", item.date, True),
                    ("post_date_gmt", item.date_gmt, True),
                    ("post_modified", item.modified, True),
                    ("post_modified_gmt", item.modified_gmt, True),
                    ("comment_status", item.comment_status, True),
                    ("ping_status", "closed", True),
                    ("post_name", item.name, True),
                    ("status", item.status, True),
                    ("post_parent", item.parent or "0", False),
                    ("menu_order", "0", False),
                    ("post_type", item.type, True),
                    ("post_password", item.password, True),
                    ("is_sticky", item.sticky or "0", False),
                ),
            ),
        ]
        if item.attachment_url:
            parts.append(
                f"\t\t<wp:attachment_url>{cdata(item.attachment_url)}</wp:attachment_url>\n"
            )
        for term in item.terms:
            parts.append(
                f'\t\t<category domain="{_attribute(term.taxonomy)}" '
                f'nicename="{_attribute(term.slug)}">{cdata(term.name)}</category>\n'
            )
        for key, value in item.meta.items():
            parts.append(
                "\t\t<wp:postmeta>\n"
                f"\t\t\t<wp:meta_key>{cdata(key)}</wp:meta_key>\n"
                f"\t\t\t<wp:meta_value>{cdata(value, f'{key} of {label}')}</wp:meta_value>\n"
                "\t\t</wp:postmeta>\n"
            )
        for comment in item.comments:
            where = f"comment {comment.id} on {label}"
            parts.append(
                "\t\t<wp:comment>\n"
                + self._fields(
                    "\t\t\t",
                    (
                        ("comment_id", comment.id, False),
                        ("comment_author", comment.author, True),
                        ("comment_author_email", comment.email, True),
                        ("comment_author_url", comment.url, False),
                        ("comment_author_IP", comment.ip, True),
                        # Not in WordPress's own exports (its importer skips it); ours
                        # and our importer keep it.
                        ("comment_agent", comment.user_agent, True),
                        ("comment_date", comment.date, True),
                        ("comment_date_gmt", comment.date_gmt, True),
                        ("comment_content", _checked(comment.content, where), True),
                        ("comment_approved", comment.approved, True),
                        ("comment_type", comment.type, True),
                        ("comment_parent", comment.parent or "0", False),
                        ("comment_user_id", comment.user_id or "0", False),
                    ),
                )
                + "\t\t</wp:comment>\n"
            )
        parts.append("\t</item>\n")
        self._write("".join(parts))

    def close(self) -> None:
        self._write("</channel>\n</rss>\n")
