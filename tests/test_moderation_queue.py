"""The moderation policy end to end, and the queue at /admin/comments that acts on it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from comment_helpers import (
    add_comment,
    all_comments,
    by_id,
    comment_id_from,
    get_comment,
    page,
    post_comment,
    set_discussion,
    text,
    with_class,
)
from conftest import create_post, create_user, login, make_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from blog.extensions import db
from blog.models import ModerationLog, utcnow
from blog.moderation import CommentStatus

PENDING, APPROVED, SPAM, TRASH = (
    CommentStatus.PENDING,
    CommentStatus.APPROVED,
    CommentStatus.SPAM,
    CommentStatus.TRASH,
)


@pytest.fixture
def post(app: Flask, admin: str) -> tuple[int, str]:
    return create_post(app, admin, title="Queue test")


def client_for(app: Flask, username: str, role: str) -> FlaskClient:
    create_user(app, username, role)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def log_rows(app: Flask, comment_id: int | None = None) -> list[ModerationLog]:
    with app.app_context():
        query = select(ModerationLog).order_by(ModerationLog.id)
        if comment_id is not None:
            query = query.where(ModerationLog.comment_id == comment_id)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def user_id(app: Flask, username: str) -> int:
    from blog.services.users import find_user

    with app.app_context():
        return find_user(username).id


def queue_ids(response) -> list[int]:
    assert response.status_code == 200, response.status_code
    root = page(response)
    return [int(li.get("data-comment-id")) for li in with_class(root, "queue-item")]


def act(client: FlaskClient, action: str, *ids: int, bulk: bool = True, **headers):
    key = "ids" if bulk else "comment_id"
    return client.post(
        "/admin/comments/action",
        data={"action": action, key: [str(i) for i in ids]},
        headers=headers,
    )


# --- the policy, end to end through the form --------------------------------------------


def test_first_comment_is_held_then_the_email_is_trusted(
    app: Flask, client: FlaskClient, admin_client: FlaskClient, post
) -> None:
    reader = app.test_client()
    first = comment_id_from(post_comment(reader, post[1], email="New@Example.org"))
    held = get_comment(app, first)
    assert held.status == PENDING
    assert held.reasons == ["first comment from this email"]
    row = by_id(page(admin_client.get("/admin/comments?status=pending")), f"comment-{first}")
    assert "first comment from this email" in text(next(with_class(row, "reasons")))

    assert act(admin_client, "approve", first).status_code == 303
    second = comment_id_from(
        post_comment(reader, post[1], email="new@example.org", comment="Back again.")
    )
    assert get_comment(app, second).status == APPROVED
    # Known by more than the email: the same name from the same network. The spam filter has
    # learned from one decision (the approval): it says what it thinks and acts on nothing.
    known, filtered = get_comment(app, second).reasons
    assert (
        known
        == "author has 1 approved comment (same email, name and network as an approved comment)"
    )
    assert filtered.startswith("spam score ") and "so far 0 and 1" in filtered


@pytest.mark.parametrize(
    ("settings", "fields", "status", "reason"),
    [
        (
            {},
            {"comment": "See http://a.example/ and http://b.example/"},
            PENDING,
            "2 links (hold at 2)",
        ),
        (
            {"comment_max_links": 3},
            {"comment": '<a href="http://a.example/">a</a> http://b.example/ www.c.example'},
            PENDING,
            "3 links (hold at 3)",
        ),
        (
            {"moderation_keys": "cheap-pills"},
            {"url": "https://cheap-pills.example/"},
            PENDING,
            "matched moderation word 'cheap-pills' in the website field",
        ),
        (
            {"disallowed_keys": "casino"},
            {"comment": "Visit my CASINO today"},
            TRASH,
            "matched disallowed word 'casino' in the comment field",
        ),
        (
            {"comment_moderation": True},
            {},
            PENDING,
            "every comment must be approved manually (setting)",
        ),
    ],
)
def test_policy_holds_a_trusted_commenter_for_a_reason(
    app: Flask, post, settings: dict, fields: dict, status: CommentStatus, reason: str
) -> None:
    add_comment(app, post[0], author="Ann Reader", email="ann@example.org")  # trusted already
    if settings:
        set_discussion(app, **settings)
    comment_id = comment_id_from(post_comment(app.test_client(), post[1], **fields))
    comment = get_comment(app, comment_id)
    assert comment.status == status
    assert reason in comment.reasons


def test_links_under_the_limit_do_not_hold(app: Flask, post) -> None:
    # A known commenter: the same name from the same network (the test client's) as before.
    add_comment(app, post[0], author="Ann Reader", email="ann@example.org", ip="127.0.0.1")
    comment_id = comment_id_from(
        post_comment(app.test_client(), post[1], comment="One link: http://a.example/")
    )
    assert get_comment(app, comment_id).status == APPROVED


@pytest.mark.parametrize(
    ("role", "own_post", "status"),
    [
        ("moderator", False, APPROVED),
        ("editor", False, APPROVED),
        ("author", True, APPROVED),
        ("author", False, PENDING),
        ("subscriber", False, PENDING),
    ],
)
def test_logged_in_moderators_and_post_authors_are_approved(
    app: Flask, admin: str, role: str, own_post: bool, status: CommentStatus
) -> None:
    client = client_for(app, "someone", role)
    path = create_post(app, "someone" if own_post else admin, title="Whose")[1]
    comment_id = comment_id_from(post_comment(client, path, author="", email=""))
    comment = get_comment(app, comment_id)
    assert comment.status == status
    if status == APPROVED:
        assert comment.reasons == ["posted by a moderator of this post"]
    else:
        assert comment.reasons == ["first comment from this account"]
    assert comment.user_id == user_id(app, "someone")


# --- the queue page ---------------------------------------------------------------------


@pytest.fixture
def mixed(app: Flask, post) -> dict[str, list[int]]:
    """3 pending, 2 approved, 1 spam, 0 trash, oldest first within each."""
    base = utcnow() - timedelta(hours=1)
    made: dict[str, list[int]] = {"pending": [], "approved": [], "spam": [], "trash": []}
    for n, status in enumerate([PENDING, APPROVED, PENDING, SPAM, APPROVED, PENDING]):
        made[status.value].append(
            add_comment(
                app,
                post[0],
                f"comment number {n} about {status.value}",
                status=status,
                author=f"Author{n}",
                email=f"person{n}@example.org",
                ip=f"198.51.100.{n + 1}",
                created_at=base + timedelta(minutes=n),
            )
        )
    return made


def test_tabs_show_counts(admin_client: FlaskClient, mixed) -> None:
    root = page(admin_client.get("/admin/comments"))
    counts = {span.get("data-count"): text(span) for span in with_class(root, "count")}
    assert counts == {
        "pending": "(3)",
        "approved": "(2)",
        "spam": "(1)",
        "trash": "(0)",
        "all": "(6)",
    }
    tabs = next(with_class(root, "tabs"))
    current = [a for a in tabs.iter("a") if a.get("aria-current") == "page"]
    assert [text(a) for a in current] == ["Pending (3)"]


@pytest.mark.parametrize("status", ["pending", "approved", "spam", "trash"])
def test_status_filter_newest_first(admin_client: FlaskClient, mixed, status: str) -> None:
    response = admin_client.get(f"/admin/comments?status={status}")
    assert queue_ids(response) == list(reversed(mixed[status]))
    if not mixed[status]:
        assert f"No {status} comments" in text(page(response))


def test_unknown_status_is_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/comments?status=published").status_code == 404


@pytest.mark.parametrize(
    ("search", "index"),
    [
        ("number 2 about", 2),  # text
        ("author5", 5),  # name, any case
        ("person0@example", 0),  # email
        ("198.51.100.3", 2),  # IP
    ],
)
def test_search(admin_client: FlaskClient, mixed, search: str, index: int) -> None:
    every = sorted(sum(mixed.values(), []))
    target = every[index]
    status = next(s for s, ids in mixed.items() if target in ids)
    response = admin_client.get("/admin/comments", query_string={"status": status, "s": search})
    assert queue_ids(response) == [target]
    assert by_id(page(response), "queue-s").get("value") == search


@pytest.mark.parametrize("search", ["%", "_", "\\", "' OR 1=1 --", "100%_off\\", "ünïcødé ☃"])
def test_search_wildcards_are_plain_text(
    app: Flask, admin_client: FlaskClient, mixed, post, search: str
) -> None:
    assert queue_ids(admin_client.get("/admin/comments", query_string={"s": search})) == []
    literal = add_comment(app, post[0], f"a deal: {search} today", status=PENDING)
    found = admin_client.get("/admin/comments", query_string={"s": search})
    assert queue_ids(found) == [literal]


@pytest.mark.parametrize("search", ["\x00", "a\x00b", "\ud800"])
def test_search_with_characters_no_comment_holds(admin_client: FlaskClient, mixed, search) -> None:
    from urllib.parse import quote

    encoded = quote(search, errors="surrogatepass")
    assert queue_ids(admin_client.get(f"/admin/comments?status=pending&s={encoded}")) == []


def test_filter_by_post(app: Flask, admin: str, admin_client: FlaskClient, mixed, post) -> None:
    other = create_post(app, admin, title="Other post")[0]
    elsewhere = add_comment(app, other, "elsewhere", status=PENDING)
    assert queue_ids(admin_client.get(f"/admin/comments?post={other}")) == [elsewhere]
    assert elsewhere not in queue_ids(admin_client.get(f"/admin/comments?post={post[0]}"))
    assert queue_ids(admin_client.get("/admin/comments?post=99999999999999999999")) == []


def test_paging_twenty_a_page(app: Flask, admin_client: FlaskClient, post) -> None:
    base = utcnow() - timedelta(days=1)
    ids = [
        add_comment(app, post[0], f"c{n}", status=PENDING, created_at=base + timedelta(minutes=n))
        for n in range(25)
    ]
    first = admin_client.get("/admin/comments")
    assert queue_ids(first) == list(reversed(ids))[:20]
    assert "Page 1 of 2" in text(next(with_class(page(first), "pager")))
    second = admin_client.get("/admin/comments?page=2")
    assert queue_ids(second) == list(reversed(ids))[20:]
    assert queue_ids(admin_client.get("/admin/comments?page=3")) == []


def test_a_row_shows_everything_a_moderator_needs(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    parent = add_comment(app, post[0], "The <em>original</em> remark.", author="Carol")
    add_comment(app, post[0], "Earlier approved.", email="dave@example.org")
    add_comment(app, post[0], "Earlier spam.", email="dave@example.org", status=SPAM)
    comment_id = comment_id_from(
        post_comment(
            app.test_client(),
            post[1],
            author="Dave",
            email="dave@example.org",
            comment="A <b>bold</b> reply with http://a.example/ http://b.example/",
            comment_parent=parent,
        )
    )
    row = by_id(page(admin_client.get("/admin/comments")), f"comment-{comment_id}")
    content = next(with_class(row, "comment-content"))
    assert content.find(".//b") is not None and "bold" in text(content)
    quoted = next(with_class(row, "queue-parent"))
    assert quoted.find(".//em") is not None and "original" in text(quoted)
    assert "in reply to Carol" in text(next(with_class(row, "queue-context")))
    links = {a.get("href") for a in row.iter("a")}
    assert post[1] in links
    assert "mailto:dave@example.org" in links
    author = text(next(with_class(row, "queue-author")))
    assert "Dave" in author and "dave@example.org" in author and "127.0.0.1" in author
    assert "1 approved · 1 spam" in author
    reasons = text(next(with_class(row, "reasons")))
    assert "2 links (hold at 2)" in reasons


# --- actions ----------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "row"])
@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (PENDING, "approve", APPROVED),
        (APPROVED, "unapprove", PENDING),
        (PENDING, "spam", SPAM),
        (APPROVED, "spam", SPAM),
        (PENDING, "trash", TRASH),
        (SPAM, "trash", TRASH),
    ],
)
def test_action_moves_the_comment_and_logs_it(
    app: Flask,
    admin: str,
    admin_client: FlaskClient,
    post,
    bulk: bool,
    start: CommentStatus,
    action: str,
    end: CommentStatus,
) -> None:
    comment_id = add_comment(app, post[0], status=start)
    response = act(admin_client, action, comment_id, bulk=bulk)
    assert response.status_code == 303
    assert get_comment(app, comment_id).status == end
    (row,) = log_rows(app, comment_id)
    assert (row.action, row.from_status, row.to_status) == (action, start, end)
    assert row.actor_id == user_id(app, admin)
    assert row.reason and "by admin" in row.reason
    assert row.created_at is not None
    with app.app_context():
        from blog.models import Post

        count = db.session.get(Post, post[0]).comment_count
    assert count == (1 if end == APPROVED else 0)


@pytest.mark.parametrize("before", [PENDING, APPROVED])
@pytest.mark.parametrize(("away", "back"), [("spam", "unspam"), ("trash", "restore")])
def test_unspam_and_restore_return_to_where_it_was(
    app: Flask, admin_client: FlaskClient, post, before, away: str, back: str
) -> None:
    comment_id = add_comment(app, post[0], status=before)
    act(admin_client, away, comment_id)
    act(admin_client, back, comment_id)
    assert get_comment(app, comment_id).status == before
    assert [r.action for r in log_rows(app, comment_id)] == [away, back]


def test_not_spam_for_a_comment_the_policy_called_spam_goes_to_pending(
    app: Flask, admin_client: FlaskClient, post, database_uri: str, tmp_path: Path
) -> None:
    trap = make_app(database_uri, tmp_path / "trap", COMMENT_MIN_FILL_SECONDS=30)
    comment_id = comment_id_from(post_comment(trap.test_client(), post[1]))
    assert get_comment(app, comment_id).status == SPAM
    act(admin_client, "unspam", comment_id)
    assert get_comment(app, comment_id).status == PENDING
    with trap.app_context():
        db.engine.dispose()


def test_bulk_action_changes_several_and_reports(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    ids = [add_comment(app, post[0], f"c{n}", status=PENDING) for n in range(3)]
    already = add_comment(app, post[0], "already", status=APPROVED)
    response = act(admin_client, "approve", *ids, already, Accept="application/json")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["changed"], body["skipped"]) == (3, 1)
    assert body["counts"]["approved"] == 4 and body["counts"]["pending"] == 0
    assert body["message"].startswith("3 comments approved.")
    assert {c.status for c in all_comments(app)} == {APPROVED}


def test_json_errors(app: Flask, admin_client: FlaskClient, post) -> None:
    response = act(admin_client, "approve", Accept="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "no_selection"
    unknown = act(admin_client, "publish", add_comment(app, post[0]), Accept="application/json")
    assert unknown.status_code == 400
    assert "error" in unknown.get_json()


def test_flash_message_after_an_action(app: Flask, admin_client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    response = admin_client.post(
        "/admin/comments/action",
        data={"action": "approve", "ids": [str(comment_id)], "next": "/admin/comments?status=spam"},
    )
    # Back where the action came from, naming the comment moved so that page can offer Undo.
    assert response.headers["Location"] == f"/admin/comments?status=spam&moved={comment_id}"
    assert "1 comment approved." in text(page(admin_client.get(response.headers["Location"])))
    evil = admin_client.post(
        "/admin/comments/action",
        data={"action": "trash", "ids": [str(comment_id)], "next": "https://evil.example/"},
    )
    assert evil.headers["Location"] == f"/admin/comments?moved={comment_id}"


def test_delete_permanently_is_for_admins(app: Flask, admin_client: FlaskClient, post) -> None:
    parent = add_comment(app, post[0], "parent", status=SPAM)
    child = add_comment(app, post[0], "child", parent_id=parent)
    moderator = client_for(app, "mod", "moderator")
    assert act(moderator, "delete", parent).status_code == 403
    assert act(moderator, "delete", parent, bulk=False).status_code == 403
    as_json = act(moderator, "delete", parent, Accept="application/json")
    assert as_json.status_code == 403
    assert as_json.get_json()["error"]["code"] == "forbidden"
    assert get_comment(app, parent) is not None

    assert act(admin_client, "delete", parent).status_code == 303
    assert get_comment(app, parent) is None
    assert get_comment(app, child).parent_id is None  # the reply stays, moved up
    rows = [r for r in log_rows(app) if r.action == "delete"]
    assert len(rows) == 1
    assert (rows[0].from_status, rows[0].to_status) == (SPAM, None)
    # The row is gone, so the log names the comment it was.
    assert rows[0].reason == f"comment {parent} deleted permanently by admin"


def test_edit_resanitizes_and_logs(app: Flask, admin_client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], "Before.", status=PENDING)
    form = admin_client.get(f"/admin/comments/{comment_id}/edit")
    assert form.status_code == 200
    assert "Before." in text(page(form).find(".//textarea"))
    response = admin_client.post(
        f"/admin/comments/{comment_id}/edit",
        data={
            "author": "Bob",
            "email": "bob@example.org",
            "url": "",
            "comment": '<b onclick="x()">After</b><script>alert(1)</script>',
        },
    )
    assert response.status_code == 303
    edited = get_comment(app, comment_id)
    assert edited.content_html == "<p><b>After</b></p>"
    assert edited.status == PENDING
    (row,) = log_rows(app, comment_id)
    assert row.action == "edit" and row.reason == "edited by admin: text"
    history = text(page(admin_client.get(f"/admin/comments/{comment_id}/edit")))
    assert "edit" in history and "edited by admin: text" in history


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("comment", "x" * 65_526, "Comment is too long"),
        ("comment", "   ", "A comment cannot be empty."),
        ("url", "javascript:alert(1)", "http:// or https://"),
        ("email", "nope", "valid email"),
        ("author", "a\x00b", "contains a NUL character"),
    ],
)
def test_edit_refuses_bad_values_and_keeps_them(
    app: Flask, admin_client: FlaskClient, post, field: str, value: str, message: str
) -> None:
    comment_id = add_comment(app, post[0], "Unchanged.", status=PENDING)
    data = {"author": "Bob", "email": "bob@example.org", "url": "", "comment": "New."}
    data[field] = value
    response = admin_client.post(f"/admin/comments/{comment_id}/edit", data=data)
    assert response.status_code == 400
    root = page(response)
    assert message in text(next(with_class(root, "form-errors")))
    if field == "comment" and value.strip():
        assert text(root.find(".//textarea")) == value
    assert get_comment(app, comment_id).content == "Unchanged."
    assert log_rows(app, comment_id) == []


def test_reply_approves_the_parent_and_is_threaded(
    app: Flask, admin: str, admin_client: FlaskClient, post
) -> None:
    parent = add_comment(app, post[0], "Please answer.", status=PENDING)
    response = admin_client.post(f"/admin/comments/{parent}/reply", data={"reply": "Answered."})
    assert response.status_code == 303
    assert get_comment(app, parent).status == APPROVED
    reply = [c for c in all_comments(app) if c.parent_id == parent]
    assert len(reply) == 1
    assert (reply[0].status, reply[0].content, reply[0].user_id) == (
        APPROVED,
        "Answered.",
        user_id(app, admin),
    )
    actions = [(r.comment_id, r.action, r.reason) for r in log_rows(app)]
    assert (parent, "approve", "approved by admin when replying") in actions
    assert (reply[0].id, "submitted", "posted by a moderator of this post") in actions


def test_empty_reply_changes_nothing(app: Flask, admin_client: FlaskClient, post) -> None:
    parent = add_comment(app, post[0], "Please answer.", status=PENDING)
    response = admin_client.post(f"/admin/comments/{parent}/reply", data={"reply": ""})
    assert response.status_code == 303
    assert get_comment(app, parent).status == PENDING
    assert len(all_comments(app)) == 1


def test_refused_reply_leaves_the_parent_held(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    post_id, _ = create_post(app, admin, title="Closed", comments_open=False)
    parent = add_comment(app, post_id, "Held on a closed post.", status=PENDING)
    response = admin_client.post(f"/admin/comments/{parent}/reply", data={"reply": "Hi."})
    assert response.status_code == 303
    assert get_comment(app, parent).status == PENDING
    assert log_rows(app, parent) == []
    flashed = text(page(admin_client.get(response.headers["Location"])))
    assert "Your reply was not posted: Comments are closed." in flashed


def test_undo_last_change(app: Flask, admin_client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    act(admin_client, "approve", comment_id)
    act(admin_client, "spam", comment_id)
    undo = admin_client.post(f"/admin/comments/{comment_id}/undo")
    assert undo.status_code == 303
    assert get_comment(app, comment_id).status == APPROVED
    admin_client.post(f"/admin/comments/{comment_id}/undo")
    assert get_comment(app, comment_id).status == PENDING
    nothing = admin_client.post(f"/admin/comments/{comment_id}/undo")
    assert "There is no change of this comment's status to undo." in text(
        page(admin_client.get(nothing.headers["Location"]))
    )
    rows = log_rows(app, comment_id)
    assert [(r.action, r.from_status, r.to_status, r.undone) for r in rows] == [
        ("approve", PENDING, APPROVED, True),
        ("spam", APPROVED, SPAM, True),
        ("undo", SPAM, APPROVED, False),
        ("undo", APPROVED, PENDING, False),
    ]


def test_the_undo_button_shows_only_where_there_is_something_to_undo(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    fresh = add_comment(app, post[0], status=PENDING, content="Never touched.")
    moved = add_comment(app, post[0], status=PENDING, content="Approved by hand.")
    act(admin_client, "approve", moved)
    pending_tab = admin_client.get("/admin/comments?status=pending").get_data(as_text=True)
    assert f'action="/admin/comments/{fresh}/undo"' not in pending_tab
    approved_tab = admin_client.get("/admin/comments?status=approved").get_data(as_text=True)
    assert f'action="/admin/comments/{moved}/undo"' in approved_tab
    admin_client.post(f"/admin/comments/{moved}/undo")
    pending_tab = admin_client.get("/admin/comments?status=pending").get_data(as_text=True)
    assert f'action="/admin/comments/{moved}/undo"' not in pending_tab


# --- who may do what --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/admin/comments"),
        ("post", "/admin/comments/action"),
        ("post", "/admin/comments/{id}/undo"),
        ("post", "/admin/comments/{id}/reply"),
        ("get", "/admin/comments/{id}/edit"),
        ("post", "/admin/comments/{id}/edit"),
    ],
)
def test_subscribers_get_403(app: Flask, post, method: str, url: str) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    client = client_for(app, "sub", "subscriber")
    data = {"action": "approve", "ids": [str(comment_id)], "reply": "x", "comment": "x"}
    response = getattr(client, method)(url.format(id=comment_id), data=data)
    assert response.status_code == 403
    assert get_comment(app, comment_id).status == PENDING


def test_anonymous_readers_are_sent_to_log_in(app: Flask, client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    response = act(client, "approve", comment_id)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert get_comment(app, comment_id).status == PENDING


def test_authors_moderate_only_comments_on_their_own_posts(app: Flask, admin: str, post) -> None:
    writer = client_for(app, "writer", "author")
    own_post = create_post(app, "writer", title="Mine")[0]
    mine = add_comment(app, own_post, "On my post.", status=PENDING)
    theirs = add_comment(app, post[0], "On the admin's post.", status=PENDING)

    assert queue_ids(writer.get("/admin/comments")) == [mine]
    counts = {
        s.get("data-count"): text(s)
        for s in with_class(page(writer.get("/admin/comments")), "count")
    }
    assert counts["pending"] == "(1)"

    body = act(writer, "approve", mine, theirs, Accept="application/json").get_json()
    assert (body["changed"], body["skipped"]) == (1, 1)
    assert get_comment(app, mine).status == APPROVED
    assert get_comment(app, theirs).status == PENDING

    assert writer.get(f"/admin/comments/{theirs}/edit").status_code == 403
    assert writer.post(f"/admin/comments/{theirs}/undo").status_code == 403
    assert writer.post(f"/admin/comments/{theirs}/reply", data={"reply": "x"}).status_code == 403
    assert act(writer, "delete", mine).status_code == 403
    assert get_comment(app, theirs).status == PENDING
    assert [c.id for c in all_comments(app)] == [mine, theirs]


def test_moderators_moderate_everything(app: Flask, admin: str, post) -> None:
    moderator = client_for(app, "mod", "moderator")
    comment_id = add_comment(app, post[0], status=PENDING)
    assert queue_ids(moderator.get("/admin/comments")) == [comment_id]
    assert act(moderator, "approve", comment_id).status_code == 303
    assert get_comment(app, comment_id).status == APPROVED


@pytest.mark.parametrize(
    "url", ["/admin/comments/action", "/admin/comments/{id}/undo", "/admin/comments/{id}/reply"]
)
def test_actions_are_post_only(app: Flask, admin_client: FlaskClient, post, url: str) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    response = admin_client.get(
        url.format(id=comment_id), query_string={"action": "approve", "ids": comment_id}
    )
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert get_comment(app, comment_id).status == PENDING


def test_unknown_comment_is_404(admin_client: FlaskClient) -> None:
    assert admin_client.post("/admin/comments/424242/undo").status_code == 404
    assert admin_client.get("/admin/comments/424242/edit").status_code == 404


HUGE = 99999999999999999999999


def test_huge_ids_are_ignored_not_a_500(app: Flask, admin_client: FlaskClient, post) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    response = admin_client.post(
        "/admin/comments/action",
        data={"action": "approve", "ids": [str(comment_id), str(HUGE), "²", "-3", "1.5", "x"]},
    )
    assert response.status_code == 303
    assert get_comment(app, comment_id).status == APPROVED
    assert admin_client.get(f"/admin/comments/{HUGE}/edit").status_code == 404
    assert admin_client.post(f"/admin/comments/{HUGE}/undo").status_code == 404
    assert (
        admin_client.post(f"/admin/comments/{HUGE}/reply", data={"reply": "x"}).status_code == 404
    )
    assert queue_ids(admin_client.get(f"/admin/comments?status=approved&page={HUGE}")) == []


def _csrf_token(response) -> str:
    token = page(response).find(".//input[@name='csrf_token']")
    assert token is not None
    return token.get("value")


@pytest.fixture
def csrf_app(app: Flask, database_uri: str, tmp_path: Path, admin: str):
    strict = make_app(database_uri, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    yield strict
    with strict.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/comments/action", {"action": "approve", "ids": "{id}"}),
        ("/admin/comments/{id}/undo", {}),
        ("/admin/comments/{id}/reply", {"reply": "Hello"}),
        ("/admin/comments/{id}/edit", {"author": "x", "email": "", "url": "", "comment": "y"}),
    ],
)
def test_actions_refuse_a_missing_csrf_token(csrf_app: Flask, post, url: str, data: dict) -> None:
    comment_id = add_comment(csrf_app, post[0], "Untouched.", status=PENDING)
    client = csrf_app.test_client()
    token = _csrf_token(client.get("/login"))
    logged_in = client.post(
        "/login",
        data={"username": "admin", "password": "correct horse battery", "csrf_token": token},
    )
    assert logged_in.status_code == 302
    filled = {k: v.format(id=comment_id) for k, v in data.items()}
    refused = client.post(url.format(id=comment_id), data=filled)
    assert refused.status_code == 400
    assert "form expired" in text(page(refused))
    assert get_comment(csrf_app, comment_id).status == PENDING
    assert get_comment(csrf_app, comment_id).content == "Untouched."
    assert log_rows(csrf_app, comment_id) == []
    # The queue's own forms carry the token, and with it the action goes through.
    queue = client.get("/admin/comments")
    good = client.post(
        "/admin/comments/action",
        data={"action": "approve", "ids": str(comment_id), "csrf_token": _csrf_token(queue)},
    )
    assert good.status_code == 303
    assert get_comment(csrf_app, comment_id).status == APPROVED


def test_approve_then_public(app: Flask, admin_client: FlaskClient, post) -> None:
    """What the queue approves, readers see; what it unapproves, they no longer do."""
    comment_id = comment_id_from(post_comment(app.test_client(), post[1], comment="Wait."))
    reader = app.test_client()
    assert by_id(page(reader.get(post[1])), f"comment-{comment_id}") is None
    act(admin_client, "approve", comment_id)
    assert by_id(page(reader.get(post[1])), f"comment-{comment_id}") is not None
    act(admin_client, "unapprove", comment_id)
    assert by_id(page(reader.get(post[1])), f"comment-{comment_id}") is None


# --- the All tab, and Undo where a comment was ------------------------------------------


def test_the_all_tab_lists_every_status_with_its_own_actions(
    app: Flask, admin_client: FlaskClient, mixed
) -> None:
    response = admin_client.get("/admin/comments?status=all")
    everything = [i for ids in mixed.values() for i in ids]
    assert sorted(queue_ids(response)) == sorted(everything)
    root = page(response)
    for status, ids in mixed.items():
        for comment_id in ids:
            row = by_id(root, f"comment-{comment_id}")
            assert text(next(with_class(row, "status-badge"))) == status
            buttons = {b.get("value") for b in row.iter("button") if b.get("name") == "action"}
            expected = {
                "pending": {"approve", "spam", "trash"},
                "approved": {"unapprove", "spam", "trash"},
                "spam": {"unspam", "trash", "delete"},  # delete: an admin's
            }[status]
            assert buttons == expected, (status, buttons)
    # In bulk, each ticked comment gets what applies to it; the others are skipped.
    response = act(admin_client, "trash", *mixed["pending"], *mixed["spam"])
    assert response.status_code == 303
    response = act(admin_client, "restore", *everything)
    follow = text(page(admin_client.get(response.headers["Location"])))
    assert "4 comments restored. 2 skipped" in follow


def test_moved_comments_stay_on_the_page_with_undo(
    app: Flask, admin_client: FlaskClient, mixed
) -> None:
    held = mixed["pending"]
    before = queue_ids(admin_client.get("/admin/comments"))
    response = admin_client.post(
        "/admin/comments/action",
        data={"action": "spam", "ids": [str(i) for i in held[:2]], "next": "/admin/comments"},
    )
    location = response.headers["Location"]
    assert location == f"/admin/comments?moved={held[0]}%2C{held[1]}"
    root = page(admin_client.get(location))
    # Where they were, in the same order, each as a note with its Undo.
    assert queue_ids(admin_client.get(location)) == before
    for comment_id in held[:2]:
        row = by_id(root, f"comment-{comment_id}")
        assert "moved" in row.get("class").split()
        assert text(row) == f"Comment by {get_comment(app, comment_id).author} marked as spam. Undo"
        forms = [f for f in row.iter("form")]
        assert [f.get("action") for f in forms] == [f"/admin/comments/{comment_id}/undo"]
    untouched = by_id(root, f"comment-{held[2]}")
    assert "moved" not in untouched.get("class").split()
    # "Undo all 2" puts both back.
    undo_all = next(with_class(root, "undo-all"))
    assert sorted(
        int(i.get("value")) for i in undo_all.iter("input") if i.get("name") == "ids"
    ) == sorted(held[:2])
    assert "Undo all 2" in text(undo_all)
    undone = admin_client.post(
        "/admin/comments/undo", data={"ids": [str(i) for i in held[:2]], "next": location}
    )
    assert undone.headers["Location"] == "/admin/comments"
    assert {get_comment(app, i).status for i in held} == {PENDING}
    assert "Undone: 2 comments back where they were." in text(
        page(admin_client.get("/admin/comments"))
    )
    # A second undo finds nothing left to undo, and says so.
    again = admin_client.post("/admin/comments/undo", data={"ids": [str(held[0])]})
    assert "could not be" in text(page(admin_client.get(again.headers["Location"])))
    assert get_comment(app, held[0]).status == PENDING


def test_a_moved_comment_shows_only_on_the_tab_it_left(
    app: Flask, admin_client: FlaskClient, mixed
) -> None:
    comment_id = mixed["pending"][0]
    act(admin_client, "approve", comment_id)
    assert comment_id not in queue_ids(
        admin_client.get(f"/admin/comments?status=trash&moved={comment_id}")
    )
    approved = queue_ids(admin_client.get(f"/admin/comments?status=approved&moved={comment_id}"))
    assert approved.count(comment_id) == 1  # there as itself, not twice
    assert comment_id in queue_ids(admin_client.get(f"/admin/comments?moved={comment_id}"))
    # Once moved again, the old note would undo the wrong change: it is not offered.
    act(admin_client, "spam", comment_id)
    assert comment_id not in queue_ids(admin_client.get(f"/admin/comments?moved={comment_id}"))
    # Junk in the parameter is ignored.
    assert (
        admin_client.get("/admin/comments?moved=x,%C2%B2,-1,99999999999999999999").status_code
        == 200
    )


def test_a_moderator_sees_no_moved_note_for_comments_not_theirs(
    app: Flask, admin: str, post
) -> None:
    other_post = create_post(app, admin, title="Not theirs")
    theirs = add_comment(app, other_post[0], status=PENDING)
    writer = client_for(app, "wendy", "author")
    with app.app_context():
        from blog.services import comments as comment_service
        from blog.services.users import find_user

        comment = comment_service.get_comment(theirs)
        comment_service.moderate(comment, "approve", find_user(admin), "")
        db.session.commit()
    assert theirs not in queue_ids(writer.get(f"/admin/comments?moved={theirs}"))
    assert writer.post("/admin/comments/undo", data={"ids": [str(theirs)]}).status_code == 303
    assert get_comment(app, theirs).status == APPROVED


def test_undo_answers_json_for_the_in_place_queue(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    comment_id = add_comment(app, post[0], status=PENDING)
    moved = act(admin_client, "approve", comment_id, Accept="application/json").get_json()
    assert moved["done"] == "approved"
    response = admin_client.post(
        f"/admin/comments/{comment_id}/undo", headers={"Accept": "application/json"}
    )
    assert response.get_json() == {
        "status": "pending",
        "message": "Undone: the comment is pending again.",
        "counts": {"pending": 1, "approved": 0, "spam": 0, "trash": 0, "all": 1},
    }
    again = admin_client.post(
        f"/admin/comments/{comment_id}/undo", headers={"Accept": "application/json"}
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "not_undoable"


def test_a_search_with_nothing_here_says_how_many_are_elsewhere(
    app: Flask, admin_client: FlaskClient, post
) -> None:
    add_comment(app, post[0], "Find the walrus.", status=SPAM)
    add_comment(app, post[0], "Another walrus.", status=TRASH)
    root = page(admin_client.get("/admin/comments?s=walrus"))
    empty = next(with_class(root, "empty"))
    assert "No pending comments matching “walrus”." in text(empty)
    link = next(empty.iter("a"))
    assert text(link) == "2 in the other tabs"
    assert link.get("href") == "/admin/comments?status=all&s=walrus"
    assert len(queue_ids(admin_client.get(link.get("href")))) == 2
