"""Atom feeds: the posts, the latest comments, and one post's comments."""

from flask import Blueprint

bp = Blueprint("feeds", __name__)

from blog.feeds import views  # noqa: E402,F401
