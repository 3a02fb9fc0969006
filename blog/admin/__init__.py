from flask import Blueprint
from flask_login import login_required

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every admin page needs a logged-in user; each view checks its permission."""


from blog.admin import account, comments, outbox, posts, settings, tools, users  # noqa: E402,F401
