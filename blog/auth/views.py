from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from blog.auth import bp
from blog.auth.forms import EmptyForm, LoginForm, SetPasswordForm
from blog.extensions import limiter
from blog.services import ServiceError, password_links, throttle
from blog.services.users import authenticate, end_session, start_session


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send someone who logged in to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    # Browsers drop tabs and newlines inside URLs ("/\t/evil" is "//evil"), and a newline
    # could never go into a Location header anyway: no control characters at all.
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("admin.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        address, username = request.remote_addr or "", form.username.data or ""
        wait = throttle.attempt(address, username)
        if wait:
            form.password.errors.append(
                "Too many failed logins: please wait "
                f"{wait} second{'s' if wait != 1 else ''} and try again."
            )
            response = make_response(render_template("auth/login.html", form=form), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        user = authenticate(username, form.password.data or "")
        if user is None:
            form.password.errors.append("That username and password do not match.")
        else:
            throttle.succeeded(address, username)
            # A fresh session on login: nothing from before (a planted session) carries over.
            session.clear()
            first_time = user.last_login_at is None
            start_session(user, (request.remote_addr or ""), request.headers.get("User-Agent", ""))
            login_user(user, remember=bool(form.remember.data))
            flash(f"Welcome{'' if first_time else ' back'}, {user.name}.", "success")
            return redirect(safe_next(request.args.get("next")) or url_for("admin.dashboard"))
        status = 401
    else:
        status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.get("/logout")
def logout_get():
    """A GET never logs out (an image or a link could): it shows a page with the button
    that does; someone not logged in is sent to the login page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        flash("Your logout form expired; please try again.", "error")
        return redirect(url_for("posts.index"))
    if current_user.is_authenticated:
        end_session(current_user)  # this login's row goes: its cookies work nowhere now
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("posts.index"))


def _no_referrer(response):
    """The token is in the address: no Referer carries it anywhere, no cache keeps it."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/password/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def set_password(token: str):
    """A one-time link (blog.services.password_links): the form, then the new password."""
    try:
        link = password_links.check(token)
    except password_links.LinkRefused as exc:
        page = render_template("auth/password_link_refused.html", reason=exc.reason, error=exc)
        return _no_referrer(make_response(page, exc.status))
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = password_links.use(token, form.password.data or "")
        except password_links.LinkRefused as exc:
            page = render_template("auth/password_link_refused.html", reason=exc.reason, error=exc)
            return _no_referrer(make_response(page, exc.status))
        except ServiceError as exc:
            form.password.errors.append(exc.message)
            status = 400
        else:
            if current_user.is_authenticated and current_user.id == user.id:
                logout_user()  # that login has just ended with the others
            flash(f"Your password is set, {user.name}. Log in with it.", "success")
            return redirect(url_for("auth.login"), 303)
    elif request.method == "POST":
        status = 400
    page = render_template("auth/set_password.html", form=form, user=link.user)
    return _no_referrer(make_response(page, status))
