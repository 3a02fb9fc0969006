"""The OpenAPI 3.1 description of /api/v1, built in code next to the views it describes.

The limits and choices the views enforce live here too, so the document and the behaviour
cannot drift apart: the views import them from this module.
"""

from __future__ import annotations

from typing import Any

from blog.models import PostStatus
from blog.moderation import CommentStatus
from blog.services.comments import LIMITS as COMMENT_LIMITS
from blog.services.posts import BODY_MAX, SLUG_MAX, TITLE_MAX

API_VERSION = "1.0.0"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Ids and page numbers fit a 32-bit signed integer (PostgreSQL's INTEGER); larger ones are
# refused before they reach the database.
MAX_INT = 2_147_483_647
POST_ACTIONS = ("draft", "publish", "schedule")
POST_TYPES = ("post", "page")
TERM_NAME_MAX = 200  # a tag's or category's name (the column's size)
MAX_TERMS = 100
REASON_MAX = 1000
COMMENT_STATUSES = tuple(status.value for status in CommentStatus)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


OPTIONAL_AUTH: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
REQUIRED_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
LOCATION_HEADER = {
    "Location": {"description": "The new resource's API address.", "schema": {"type": "string"}}
}


# What blog.text.bad_characters refuses, as a pattern clients can check before sending
# (ECMA-262 and Python's re read it alike): control characters but tab, newline and
# carriage return, and the noncharacters U+FDD0..U+FDEF, U+FFFE and U+FFFF. Also refused,
# though no portable pattern says it: lone surrogates (a JSON "\ud800" with no pair) and
# the noncharacters of the other planes (U+1FFFE, U+1FFFF...).
PLAIN_TEXT = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFDD0-\uFDEF\uFFFE\uFFFF]*$"


def _text(max_length: int | None = None, **extra: Any) -> dict[str, Any]:
    """A string field of typed text (checked by blog.text.bad_characters)."""
    schema: dict[str, Any] = {"type": "string", "pattern": PLAIN_TEXT, **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _schemas() -> dict[str, Any]:
    date_time = {"type": "string", "format": "date-time"}
    string_list = {"type": "array", "items": _text(TERM_NAME_MAX)}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "A stable, machine-readable name such as "
                            "`not_found`, `invalid`, `comment_refused`, `rate_limited`.",
                        },
                        "message": {
                            "type": "string",
                            "description": "What went wrong and what to do, in words.",
                        },
                        "field": {
                            "type": ["string", "null"],
                            "description": "The (first) request field at fault, when there is one.",
                        },
                        "refusals": {
                            "type": "array",
                            "description": "Every reason a comment was refused, at once.",
                            "items": _ref("Refusal"),
                        },
                    },
                }
            },
        },
        "Refusal": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": ["string", "null"], "description": "null: the whole request."},
                "message": {"type": "string"},
            },
        },
        "Author": {
            "type": "object",
            "required": ["id", "username", "name"],
            "properties": {
                "id": {"type": "integer"},
                "username": {"type": "string"},
                "name": {"type": "string"},
            },
        },
        "Post": {
            "type": "object",
            "required": [
                "id",
                "type",
                "title",
                "slug",
                "url",
                "status",
                "body",
                "body_html",
                "excerpt",
                "author",
                "tags",
                "categories",
                "published_at",
                "created_at",
                "updated_at",
                "comments_open",
                "comment_count",
            ],
            "properties": {
                "id": {"type": "integer"},
                "type": {"type": "string", "enum": list(POST_TYPES)},
                "title": {"type": "string"},
                "slug": {"type": "string"},
                "url": {"type": "string", "description": "The post's page, a path on this site."},
                "status": {
                    "type": "string",
                    "enum": [s.value for s in PostStatus],
                    "description": "As a reader sees it: a scheduled post that is due is "
                    "`published`.",
                },
                "body": {
                    "type": "string",
                    "description": "As the author wrote it: Markdown, or HTML for a post "
                    "imported from WordPress.",
                },
                "body_html": {"type": "string", "description": "The rendered, cleaned HTML."},
                "excerpt": {"type": "string"},
                "author": _ref("Author"),
                "tags": {"type": "array", "items": {"type": "string"}},
                "categories": {"type": "array", "items": {"type": "string"}},
                "published_at": _nullable(date_time),
                "created_at": date_time,
                "updated_at": date_time,
                "comments_open": {"type": "boolean"},
                "comment_count": {"type": "integer", "description": "Approved comments."},
            },
        },
        "PostInput": {
            "type": "object",
            "required": ["title"],
            "additionalProperties": False,
            "properties": {
                # Not blank: at least one character other than white space.
                "title": {"allOf": [_text(TITLE_MAX), {"pattern": r"\S"}]},
                "body": _text(BODY_MAX, description="Markdown."),
                "slug": _text(
                    SLUG_MAX, description="Made from the title when left out; made unique."
                ),
                "excerpt": _text(),
                "tags": {**string_list, "maxItems": MAX_TERMS},
                "categories": {
                    **string_list,
                    "maxItems": MAX_TERMS,
                    "description": 'Names, or paths such as "Parent/Child"; missing ones are '
                    "created.",
                },
                "type": {"type": "string", "enum": list(POST_TYPES), "default": "post"},
                "comments_open": {"type": "boolean"},
                "status": {
                    "type": "string",
                    "enum": list(POST_ACTIONS),
                    "default": "draft",
                    "description": "`schedule` needs a `published_at` in the future.",
                },
                "published_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "ISO 8601 with a UTC offset, e.g. 2024-05-01T09:00:00+02:00.",
                },
            },
        },
        "Comment": {
            "type": "object",
            "required": [
                "id",
                "post_id",
                "parent_id",
                "author",
                "url",
                "content",
                "content_html",
                "status",
                "created_at",
            ],
            "properties": {
                "id": {"type": "integer"},
                "post_id": {"type": "integer"},
                "parent_id": {"type": ["integer", "null"]},
                "author": {"type": "string", "description": "The commenter's name."},
                "url": {"type": "string", "description": "The commenter's website."},
                "content": {"type": "string", "description": "The text as it was typed."},
                "content_html": {"type": "string", "description": "The sanitized HTML."},
                "status": {
                    "type": "string",
                    "enum": list(COMMENT_STATUSES),
                    "description": "To someone who cannot moderate the comment, a comment held "
                    "for any reason is `pending`.",
                },
                "created_at": date_time,
                "email": {"type": "string", "description": "Moderators of the comment only."},
                "ip": {"type": "string", "description": "Moderators of the comment only."},
                "user_agent": {
                    "type": "string",
                    "description": "Moderators of the comment only.",
                },
                "reasons": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Why the comment has its status. Moderators only.",
                },
                "spam_score": {
                    "type": ["number", "null"],
                    "minimum": 0,
                    "maximum": 1,
                    "description": "The spam filter's score when the comment came in (1 is "
                    "surely spam), or null when the filter had learned nothing yet. Moderators "
                    "only.",
                },
            },
        },
        "CommentInput": {
            "type": "object",
            "required": ["post", "content"],
            "additionalProperties": False,
            "properties": {
                "post": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
                "content": _text(COMMENT_LIMITS["comment"]),
                "author": _text(COMMENT_LIMITS["author"]),
                "email": _text(COMMENT_LIMITS["email"]),
                "url": _text(COMMENT_LIMITS["url"]),
                "parent": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "maximum": MAX_INT,
                    "description": "The comment answered; 0 or null for a new thread.",
                },
            },
        },
        "CommentUpdate": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "status": {"type": "string", "enum": list(COMMENT_STATUSES)},
                "reason": _text(
                    REASON_MAX, description="Kept in the moderation log with the status change."
                ),
                "content": _text(COMMENT_LIMITS["comment"]),
                "author": _text(COMMENT_LIMITS["author"]),
                "email": _text(COMMENT_LIMITS["email"]),
                "url": _text(COMMENT_LIMITS["url"]),
            },
        },
        "PostList": _list_schema("Post"),
        "CommentList": _list_schema("Comment"),
    }


def _list_schema(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "total": {"type": "integer", "minimum": 0},
        },
    }


def _responses() -> dict[str, Any]:
    error = _ref("Error")
    return {
        name: _json_body(error, description)
        for name, description in (
            ("BadRequest", "The body is not a JSON object, or the blog's rules refused it."),
            ("Unauthorized", "A token is needed, or the one sent is not valid."),
            ("Forbidden", "The token's user is not allowed to do this."),
            ("NotFound", "Nothing there, or nothing this user may see."),
            ("Invalid", "A field is missing, unknown, of the wrong type or out of range."),
            ("TooLarge", "The body is larger than the server accepts."),
            ("RateLimited", "Too many requests; wait and try again."),
        )
    }


def _parameters() -> dict[str, Any]:
    def integer(name: str, where: str, description: str, **schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": where,
            "required": where == "path",
            "description": description,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT, **schema},
        }

    return {
        "Page": integer("page", "query", "The page, from 1.", default=1),
        "PerPage": integer(
            "per_page",
            "query",
            f"Items per page, at most {MAX_PER_PAGE}.",
            maximum=MAX_PER_PAGE,
            default=DEFAULT_PER_PAGE,
        ),
        "PostId": integer("post_id", "path", "The post's id."),
        "CommentId": integer("comment_id", "path", "The comment's id."),
    }


def _paths() -> dict[str, Any]:
    errors_read = {"401": _response("Unauthorized"), "422": _response("Invalid")}
    errors_write = {
        "400": _response("BadRequest"),
        "401": _response("Unauthorized"),
        "403": _response("Forbidden"),
        "413": _response("TooLarge"),
        "422": _response("Invalid"),
    }
    return {
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "tags": ["meta"],
                "summary": "This document.",
                "security": OPTIONAL_AUTH,
                "responses": {
                    "200": _json_body({"type": "object"}, "The OpenAPI 3.1 document."),
                },
            }
        },
        "/api/v1/posts": {
            "get": {
                "operationId": "listPosts",
                "tags": ["posts"],
                "summary": "Published posts (or pages), newest first.",
                "security": OPTIONAL_AUTH,
                "parameters": [
                    _param("Page"),
                    _param("PerPage"),
                    {
                        "name": "type",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(POST_TYPES), "default": "post"},
                    },
                ],
                "responses": {
                    "200": _json_body(_ref("PostList"), "A page of posts."),
                    **errors_read,
                },
            },
            "post": {
                "operationId": "createPost",
                "tags": ["posts"],
                "summary": "Write a post (authors, editors, admins).",
                "security": REQUIRED_AUTH,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("PostInput")}},
                },
                "responses": {
                    "201": {
                        **_json_body(_ref("Post"), "The new post."),
                        "headers": LOCATION_HEADER,
                    },
                    **errors_write,
                },
            },
        },
        "/api/v1/posts/{post_id}": {
            "get": {
                "operationId": "getPost",
                "tags": ["posts"],
                "summary": "One post; an unpublished one only to users who may edit it.",
                "security": OPTIONAL_AUTH,
                "parameters": [_param("PostId")],
                "responses": {
                    "200": _json_body(_ref("Post"), "The post."),
                    "401": _response("Unauthorized"),
                    "404": _response("NotFound"),
                },
            }
        },
        "/api/v1/comments": {
            "get": {
                "operationId": "listComments",
                "tags": ["comments"],
                "summary": "Comments, newest first. Everyone sees approved comments on published "
                "posts; authors every comment on their own posts; moderators every comment.",
                "security": OPTIONAL_AUTH,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": "Only this status. Left out: every status the user may see.",
                        "schema": {"type": "string", "enum": list(COMMENT_STATUSES)},
                    },
                    {
                        "name": "post",
                        "in": "query",
                        "required": False,
                        "description": "Only comments on this post.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
                    },
                    _param("Page"),
                    _param("PerPage"),
                ],
                "responses": {
                    "200": _json_body(_ref("CommentList"), "A page of comments."),
                    "403": _response("Forbidden"),
                    **errors_read,
                },
            },
            "post": {
                "operationId": "createComment",
                "tags": ["comments"],
                "summary": "Comment on a post, under the same rules as the comment form.",
                "security": OPTIONAL_AUTH,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("CommentInput")}},
                },
                "responses": {
                    "201": {
                        **_json_body(
                            _ref("Comment"),
                            "Stored: `approved` is published, `pending` awaits moderation.",
                        ),
                        "headers": LOCATION_HEADER,
                    },
                    "404": _response("NotFound"),
                    "429": _response("RateLimited"),
                    **errors_write,
                },
            },
        },
        "/api/v1/comments/{comment_id}": {
            "get": {
                "operationId": "getComment",
                "tags": ["comments"],
                "summary": "One comment: approved ones to everyone, others to their moderators.",
                "security": OPTIONAL_AUTH,
                "parameters": [_param("CommentId")],
                "responses": {
                    "200": _json_body(_ref("Comment"), "The comment."),
                    "401": _response("Unauthorized"),
                    "404": _response("NotFound"),
                },
            },
            "patch": {
                "operationId": "updateComment",
                "tags": ["comments"],
                "summary": "Moderate (status) or edit a comment; moderators, and a post's author "
                "for its comments. Every change is written to the moderation log.",
                "security": REQUIRED_AUTH,
                "parameters": [_param("CommentId")],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("CommentUpdate")}},
                },
                "responses": {
                    "200": _json_body(_ref("Comment"), "The comment as it is now."),
                    "404": _response("NotFound"),
                    **errors_write,
                },
            },
            "delete": {
                "operationId": "deleteComment",
                "tags": ["comments"],
                "summary": "Delete a comment for good (admins); replies move up a level.",
                "security": REQUIRED_AUTH,
                "parameters": [_param("CommentId")],
                "responses": {
                    "204": {"description": "Deleted."},
                    "401": _response("Unauthorized"),
                    "403": _response("Forbidden"),
                    "404": _response("NotFound"),
                },
            },
        },
    }


def build_document() -> dict[str, Any]:
    """A fresh copy of the document each call, so no caller can change another's."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Blog API",
            "version": API_VERSION,
            "description": "Posts and moderated comments. Send `Authorization: Bearer TOKEN` "
            "(a token from `flask --app app token create NAME`) where a user is needed. Errors "
            'are `{"error": {"code": ..., "message": ...}}`, with `field` naming the field '
            "at fault when there is one.",
        },
        "tags": [
            {"name": "posts", "description": "Posts and pages."},
            {"name": "comments", "description": "Comments and their moderation."},
            {"name": "meta", "description": "About the API itself."},
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "parameters": _parameters(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `flask --app app token create NAME`.",
                }
            },
        },
    }
