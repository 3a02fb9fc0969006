"""The flask commands: user, post, token and bootstrap (INTERFACE.md, "Command line")."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import PASSWORD, create_user, login
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import ApiToken, Post, PostStatus, Role, User
from blog.services.users import find_user, user_for_token

NEW_PASSWORD = "typed at the prompt"


def _user(app: Flask, username: str) -> User | None:
    with app.app_context():
        user = find_user(username)
        if user is not None:
            db.session.expunge(user)
        return user


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- user create ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_user_create_with_every_role(app: Flask, runner: FlaskCliRunner, role: str) -> None:
    result = runner.invoke(
        args=["user", "create", "bob", "--role", role, "--email", "bob@example.com",
              "--password", PASSWORD],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"Created {role} 'bob'.\n"
    user = _user(app, "bob")
    assert user is not None
    assert (user.role.value, user.email, user.active) == (role, "bob@example.com", True)
    assert PASSWORD not in result.output
    assert login(app.test_client(), "bob").status_code == 302


def test_user_create_defaults_to_subscriber(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["user", "create", "bob", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    user = _user(app, "bob")
    assert user is not None and user.role == Role.SUBSCRIBER


@pytest.mark.parametrize("typed", [NEW_PASSWORD + "\n", NEW_PASSWORD + "\r\n", NEW_PASSWORD])
def test_user_create_reads_the_password_from_stdin(
    app: Flask, runner: FlaskCliRunner, typed: str
) -> None:
    result = runner.invoke(args=["user", "create", "carol", "--role", "author"], input=typed)
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert login(app.test_client(), "carol", NEW_PASSWORD).status_code == 302


def test_user_create_refuses_a_duplicate(app: Flask, runner: FlaskCliRunner) -> None:
    create_user(app, "bob", "author")
    result = runner.invoke(args=["user", "create", "bob", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "Error: The username 'bob' is taken." in result.output
    assert _count(app, User) == 1


def test_user_create_refuses_an_unknown_role(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["user", "create", "bob", "--role", "overlord", "--password", PASSWORD]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert "'overlord' is not one of 'admin', 'editor', 'author', 'moderator', 'subscriber'" in (
        result.output
    )
    assert _count(app, User) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name", "--password", PASSWORD], "A username is 1 to 60 letters"),
        (["x" * 61, "--password", PASSWORD], "A username is 1 to 60 letters"),
        (["bob", "--password", "short"], "at least 8 characters"),
    ],
)
def test_user_create_explains_bad_input(
    app: Flask, runner: FlaskCliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["user", "create", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert _count(app, User) == 0


def test_user_create_with_an_empty_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["user", "create", "bob"], input="")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert _count(app, User) == 0


# --- post create ---------------------------------------------------------------------------


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.md"
    path.write_text("# From a file\n\nWith *Markdown* and ünïcode.\n", encoding="utf-8")
    return path


def test_post_create_publish_prints_a_path_that_answers(
    app: Flask, runner: FlaskCliRunner, admin: str, body_file: Path
) -> None:
    result = runner.invoke(
        args=["post", "create", "--author", admin, "--title", "From the shell",
              "--body-file", str(body_file), "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = result.output.strip()
    assert re.fullmatch(r"/\d{4}/\d{2}/from-the-shell/", path)
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert "<em>Markdown</em> and ünïcode" in response.text


def test_post_create_without_publish_is_a_draft(
    app: Flask, runner: FlaskCliRunner, admin: str, body_file: Path
) -> None:
    result = runner.invoke(
        args=[
            "post",
            "create",
            "--author",
            admin,
            "--title",
            "Draft",
            "--body-file",
            str(body_file),
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        post = db.session.scalars(select(Post)).one()
        assert post.status == PostStatus.DRAFT
    assert app.test_client().get(result.output.strip()).status_code == 404


def test_post_create_reads_the_body_from_stdin(
    app: Flask, runner: FlaskCliRunner, admin: str
) -> None:
    result = runner.invoke(
        args=["post", "create", "--author", admin, "--title", "Piped", "--body-file", "-",
              "--publish"],
        input="Piped **in**.\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<strong>in</strong>" in app.test_client().get(result.output.strip()).text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--author", "ghost", "--title", "T"], "No user 'ghost'."),
        (["--author", "sub", "--title", "T"], "Your role cannot write posts."),
        (["--author", "admin", "--title", "   "], "Give the post a title."),
        (["--author", "admin", "--title", "T", "--body-file", "/no/such/file.md"], "No such file"),
    ],
)
def test_post_create_errors(
    app: Flask, runner: FlaskCliRunner, admin: str, args: list[str], message: str
) -> None:
    create_user(app, "sub", "subscriber")
    result = runner.invoke(args=["post", "create", *args])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert _count(app, Post) == 0


# --- token create --------------------------------------------------------------------------


def test_token_create_prints_a_working_token_stored_hashed(
    app: Flask, runner: FlaskCliRunner, admin: str
) -> None:
    result = runner.invoke(args=["token", "create", admin])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 40
    with app.app_context():
        user = user_for_token(token)
        assert user is not None and user.username == admin
        assert user_for_token(token + "x") is None
        row = db.session.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used_at is not None
        stored = " ".join(str(value) for value in vars(row).values())
        assert token not in stored


def test_each_token_is_new(app: Flask, runner: FlaskCliRunner, admin: str) -> None:
    tokens = {runner.invoke(args=["token", "create", admin]).output.strip() for _ in range(2)}
    assert len(tokens) == 2
    assert _count(app, ApiToken) == 2


def test_token_of_an_inactive_user_stops_working(
    app: Flask, runner: FlaskCliRunner, admin: str
) -> None:
    token = runner.invoke(args=["token", "create", admin]).output.strip()
    with app.app_context():
        user = find_user(admin)
        assert user is not None
        user.active = False
        db.session.commit()
        assert user_for_token(token) is None


def test_token_create_for_unknown_user(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["token", "create", "ghost"])
    assert result.exit_code == 1
    assert "No user 'ghost'." in result.output


# --- bootstrap -----------------------------------------------------------------------------


def test_bootstrap_once_then_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["bootstrap"])
    assert result.exit_code == 0, result.output
    password = re.search(r"password: (\S+)", result.output)
    assert password is not None
    admin = _user(app, "admin")
    assert admin is not None and admin.role == Role.ADMIN
    with app.app_context():
        welcome = db.session.scalars(select(Post)).one()
        assert welcome.status == PostStatus.PUBLISHED
        assert [t.name for t in welcome.tags] == ["welcome"]
        from blog.templating import post_path

        with app.test_request_context():
            path = post_path(welcome)
    reader = app.test_client()
    page = reader.get(path)
    assert page.status_code == 200
    assert '<code class="language-python">' in page.text
    assert login(reader, "admin", password.group(1)).status_code == 302

    again = runner.invoke(args=["bootstrap"])
    assert again.exit_code == 0
    assert "nothing to do" in again.output
    assert "password" not in again.output
    assert (_count(app, User), _count(app, Post)) == (1, 1)


def test_bootstrap_leaves_an_existing_blog_alone(app: Flask, runner: FlaskCliRunner) -> None:
    create_user(app, "owner", "admin")
    result = runner.invoke(args=["bootstrap"])
    assert "nothing to do" in result.output
    assert (_count(app, User), _count(app, Post)) == (1, 0)
    assert _user(app, "admin") is None


def test_bootstrap_renders_fragments_of_an_older_markup_again(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """After an upgrade that changes the comment markup (FRAGMENT_VERSION), `make run`
    renders the stored fragments again instead of leaving pages to render them per read."""
    from comment_helpers import add_comment
    from conftest import create_post

    from blog.fragments import FRAGMENT_VERSION
    from blog.models import Comment

    create_user(app, "owner", "admin")
    post_id, _ = create_post(app, "owner")
    comment_id = add_comment(app, post_id)
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert comment is not None
        current = comment.fragment_key
        comment.fragment_key = f"{FRAGMENT_VERSION - 1}|" + current.split("|", 1)[1]
        comment.fragment_html = "old markup"
        db.session.commit()
    result = runner.invoke(args=["bootstrap"])
    assert "Rendered 1 stored comment fragments again" in result.output
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert comment is not None
        assert comment.fragment_key == current
        assert 'class="comment-meta"' in comment.fragment_html


def test_bootstrap_makes_the_code_blocks_of_older_posts_focusable(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """A body stored before the sanitizer wrote ``<pre tabindex="0">`` is rendered again."""
    from conftest import create_post

    create_user(app, "owner", "admin")
    post_id, _ = create_post(app, "owner", body="Code:\n\n    wide code\n")
    plain_id, _ = create_post(app, "owner", title="Plain", body="No code.")
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None and '<pre tabindex="0">' in post.body_html
        post.body_html = post.body_html.replace('<pre tabindex="0">', "<pre>")
        plain = db.session.get(Post, plain_id)
        assert plain is not None
        plain_html, plain_updated = plain.body_html, plain.updated_at
        db.session.commit()
    result = runner.invoke(args=["bootstrap"])
    assert "Rendered 1 post bodies with code blocks again" in result.output
    with app.app_context():
        post = db.session.get(Post, post_id)
        plain = db.session.get(Post, plain_id)
        assert post is not None and plain is not None
        assert '<pre tabindex="0"><code>wide code' in post.body_html
        assert (plain.body_html, plain.updated_at) == (plain_html, plain_updated)
    again = runner.invoke(args=["bootstrap"])
    assert "post bodies" not in again.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (None, "http://127.0.0.1:5000/login"),  # SITE_URL
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/login"),
        ("http://0.0.0.0:9000", "http://127.0.0.1:9000/login"),
        ("http://blog.example:8000", "http://blog.example:8000/login"),
    ],
)
def test_the_first_run_banner_names_where_the_blog_is_served(
    app: Flask, runner: FlaskCliRunner, url, shown
) -> None:
    """make run passes its HOST and PORT: the banner says where to log in."""
    result = runner.invoke(args=["bootstrap", *(["--url", url] if url else [])])
    assert result.exit_code == 0, result.output
    assert f"Log in at {shown}\n" in result.output
