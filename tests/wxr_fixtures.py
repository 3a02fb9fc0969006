"""WordPress exports of our own for the importer's tests, beside WordPress's in ../shared/wxr.

Two are kept as files in ``tests/fixtures/wxr/``: ``wordpress-com.xml`` (a WordPress.com
export: the undeclared ``atom:`` prefix, block markup and shortcodes, Jetpack feedback and
menu items, every comment status, a reply whose parent is gone, an auto-draft) and
``non-ascii.xml`` (Cyrillic, Greek, Arabic, Japanese and emoji in titles, slugs, terms and
comments; the ``https://`` namespace; a post with no GMT date). The large one is written
here at test time, the way WordPress writes them, since 20,000 comments make a 14 MB file:
``write_large`` returns what it holds, for the tests to compare with what was imported.

    .venv/bin/python tests/wxr_fixtures.py OUT.xml [--comments 20000] [--posts 50]

writes one for trying the importer by hand (``--comments 150000`` is about 100 MB).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "wxr"
WORDPRESS_COM = FIXTURES / "wordpress-com.xml"
NON_ASCII = FIXTURES / "non-ascii.xml"

HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- generator="WordPress/6.5" created="2024-05-01 10:00" -->
<rss version="2.0"
	xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
	<title>Busy Forum Blog</title>
	<link>https://busy.example</link>
	<description>Where everyone has an opinion</description>
	<language>en-US</language>
	<wp:wxr_version>1.2</wp:wxr_version>
	<wp:base_site_url>https://busy.example</wp:base_site_url>
	<wp:base_blog_url>https://busy.example</wp:base_blog_url>
	<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[moderator]]></wp:author_login>\
<wp:author_email><![CDATA[mod@busy.example]]></wp:author_email>\
<wp:author_display_name><![CDATA[The Moderator]]></wp:author_display_name></wp:author>
	<wp:category><wp:term_id>1</wp:term_id><wp:category_nicename><![CDATA[debates]]>\
</wp:category_nicename><wp:cat_name><![CDATA[Debates]]></wp:cat_name></wp:category>
"""
ITEM = """	<item>
		<title><![CDATA[{title}]]></title>
		<link>https://busy.example/{year}/{month:02d}/{slug}/</link>
		<pubDate>{pub}</pubDate>
		<dc:creator><![CDATA[moderator]]></dc:creator>
		<guid isPermaLink="false">https://busy.example/?p={id}</guid>
		<description></description>
		<content:encoded><![CDATA[<p>{body}</p>]]></content:encoded>
		<excerpt:encoded><![CDATA[]]></excerpt:encoded>
		<wp:post_id>{id}</wp:post_id>
		<wp:post_date><![CDATA[{date}]]></wp:post_date>
		<wp:post_date_gmt><![CDATA[{date}]]></wp:post_date_gmt>
		<wp:comment_status><![CDATA[open]]></wp:comment_status>
		<wp:ping_status><![CDATA[open]]></wp:ping_status>
		<wp:post_name><![CDATA[{slug}]]></wp:post_name>
		<wp:status><![CDATA[publish]]></wp:status>
		<wp:post_parent>0</wp:post_parent>
		<wp:menu_order>0</wp:menu_order>
		<wp:post_type><![CDATA[post]]></wp:post_type>
		<wp:post_password><![CDATA[]]></wp:post_password>
		<wp:is_sticky>0</wp:is_sticky>
		<category domain="category" nicename="debates"><![CDATA[Debates]]></category>
"""
COMMENT = """		<wp:comment>
			<wp:comment_id>{id}</wp:comment_id>
			<wp:comment_author><![CDATA[{author}]]></wp:comment_author>
			<wp:comment_author_email><![CDATA[{email}]]></wp:comment_author_email>
			<wp:comment_author_url>{url}</wp:comment_author_url>
			<wp:comment_author_IP><![CDATA[{ip}]]></wp:comment_author_IP>
			<wp:comment_date><![CDATA[{date}]]></wp:comment_date>
			<wp:comment_date_gmt><![CDATA[{date}]]></wp:comment_date_gmt>
			<wp:comment_content><![CDATA[{content}]]></wp:comment_content>
			<wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved>
			<wp:comment_type><![CDATA[{type}]]></wp:comment_type>
			<wp:comment_parent>{parent}</wp:comment_parent>
			<wp:comment_user_id>0</wp:comment_user_id>
		</wp:comment>
"""
WORDS = (
    "agree disagree point source evidence really think maybe argument reply earlier "
    "thread interesting wrong right exactly however although consider question answer"
).split()
NAMES = "Ada Ben Chloé Dmitri Elena Farid Grace Hiro Inès Jonas Kofi Lena Mateo Nadia".split()
APPROVED = {"approved": "1", "pending": "0", "spam": "spam", "trash": "trash"}


@dataclass
class Holds:
    """What a generated export holds, as the importer should count it."""

    posts: int = 0
    comments: Counter[tuple[str, str]] = field(default_factory=Counter)  # (status, type)
    deepest: int = 0
    approved_per_post: dict[int, int] = field(default_factory=dict)


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.80:
        return "approved"
    if roll < 0.90:
        return "pending"
    if roll < 0.97:
        return "spam"
    return "trash"


def write_large(path: Path, comments: int = 20_000, posts: int = 50, depth: int = 10) -> Holds:
    """An export of ``posts`` posts sharing ``comments`` comments in threads up to
    ``depth`` deep (every post has at least one thread that deep), mixed statuses and
    types, non-ASCII names."""
    rng = random.Random(20_000)
    holds = Holds(posts=posts)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    comment_id = 1000
    per_post = [comments // posts + (1 if n < comments % posts else 0) for n in range(posts)]
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        for n in range(posts):
            post_id = 10 + n
            when = start + timedelta(days=7 * n)
            out.write(
                ITEM.format(
                    title=f"Debate {n + 1}: is {rng.choice(WORDS)} {rng.choice(WORDS)}?",
                    slug=f"debate-{n + 1}",
                    year=when.year,
                    month=when.month,
                    pub=when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                    id=post_id,
                    body=" ".join(rng.choice(WORDS) for _ in range(60)),
                    date=when.strftime("%Y-%m-%d %H:%M:%S"),
                )
            )
            depth_of: dict[int, int] = {}
            ids: list[int] = []
            approved = 0
            for k in range(per_post[n]):
                comment_id += 1
                # The first `depth` comments of a post form one chain, the deepest thread.
                if 0 < k < depth:
                    parent = ids[-1]
                elif k >= depth and ids and rng.random() < 0.6:
                    parent = rng.choice(ids[-40:])
                    if depth_of[parent] >= depth:
                        parent = 0
                else:
                    parent = 0
                depth_of[comment_id] = depth_of[parent] + 1 if parent else 1
                ids.append(comment_id)
                status = "approved" if k < depth else _status(rng)
                kind = "comment"
                if k >= depth and rng.random() < 0.03:
                    kind = rng.choice(("pingback", "trackback"))
                name = rng.choice(NAMES)
                holds.comments[(status, kind)] += 1
                holds.deepest = max(holds.deepest, depth_of[comment_id])
                approved += status == "approved"
                out.write(
                    COMMENT.format(
                        id=comment_id,
                        author=name,
                        email=f"{name.lower()}.{k % 97}@example.org",
                        url="" if rng.random() < 0.7 else f"https://{name.lower()}.example",
                        ip=f"198.51.100.{k % 250 + 1}",
                        date=(when + timedelta(minutes=k + 1)).strftime("%Y-%m-%d %H:%M:%S"),
                        content=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
                        + (" <em>indeed</em>" if rng.random() < 0.1 else ""),
                        approved=APPROVED[status],
                        type=kind,
                        parent=parent,
                    )
                )
            holds.approved_per_post[post_id] = approved
            out.write("\t</item>\n")
        out.write("</channel>\n</rss>\n")
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    holds = write_large(args.output, args.comments, args.posts)
    size = args.output.stat().st_size
    print(
        f"{args.output}: {size:,} bytes, {holds.posts} posts, {sum(holds.comments.values()):,} "
        f"comments, threads {holds.deepest} deep"
    )


if __name__ == "__main__":
    main()
