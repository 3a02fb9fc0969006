from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from blog.models import Permission


def permission_required(permission: Permission) -> Callable:
    """403 unless the logged-in user's role has ``permission``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
