"""The JSON API fuzzed from its own OpenAPI document (schemathesis).

Schemathesis reads ``/api/v1/openapi.json`` and sends every operation bodies, parameters
and headers generated from it, valid and not, through the WSGI app (no network): each
answer must be no 5xx, carry a documented status and content type, and match the
documented schema. Run as an admin (every operation reachable) and as anonymous. The
number of examples per operation is bounded (``API_FUZZ_EXAMPLES``, default 25), so
the whole file stays within a couple of minutes on a busy machine.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from comment_helpers import add_comment
from conftest import create_post, create_user
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from blog.api.openapi import build_document
from blog.extensions import db
from blog.moderation import CommentStatus
from blog.services.users import create_token, find_user

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def seeded(app: Flask) -> tuple[Flask, str]:
    """A site with posts, a page, approved and held comments, and an admin's token."""
    create_user(app, "admin", "admin")
    create_user(app, "writer", "author")
    post_id, _ = create_post(app, "writer", title="Fuzzed", tags=["t"], categories=["c"])
    create_post(app, "admin", title="A page", type=_page())
    create_post(app, "writer", title="A draft", action="draft")
    first = add_comment(app, post_id, "An approved comment.")
    add_comment(app, post_id, "A reply.", parent_id=first)
    add_comment(app, post_id, "Held.", status=CommentStatus.PENDING)
    with app.app_context():
        token = create_token(find_user("admin"), "fuzz")
        db.session.commit()
    return app, token


def _page():
    from blog.models import PostType

    return PostType.PAGE


# Every documented operation, read from the document itself (test_api checks that it
# lists every API route).
OPERATIONS = [
    (method.upper(), path)
    for path, operations in build_document()["paths"].items()
    for method in operations
    if method in ("get", "post", "patch", "put", "delete")
]

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,  # the same examples on every run: a failure is one you can repeat
    database=None,
)


# Data that fits the schema may still be refused by rules the document states in words: a
# comment by the site's discussion settings (a required email, a valid address, disallowed
# words: 400 comment_refused; an edit is checked as a new comment is), a post by rules
# across fields (`schedule` needs a future `published_at`; a slug needs a letter or digit).
# For these operations schema-valid data need not be accepted; every other check holds for
# them, and every check holds elsewhere.
POLICY_REFUSES = {
    ("POST", "/api/v1/comments"),
    ("PATCH", "/api/v1/comments/{comment_id}"),
    ("POST", "/api/v1/posts"),
}


def fuzz(app: Flask, method: str, path: str, headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path][method]
    excluded = [checks.positive_data_acceptance] if (method, path) in POLICY_REFUSES else []

    @FUZZ
    @given(case=operation.as_strategy())
    def run(case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_keeps_its_documented_promises_as_admin(seeded, method: str, path: str) -> None:
    app, token = seeded
    fuzz(app, method, path, {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_keeps_its_documented_promises_anonymously(seeded, method: str, path: str) -> None:
    app, _ = seeded
    fuzz(app, method, path, {})
