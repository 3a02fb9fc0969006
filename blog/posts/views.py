"""Public pages: the front page, archives, posts and static pages."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blog import pagecache
from blog.extensions import csrf, db, limiter
from blog.models import Category, Post, PostType, Tag, User
from blog.moderation import comments_closing_at
from blog.pagecache.keys import COMMENTS, SITE
from blog.posts import bp
from blog.services import ServiceError
from blog.services import posts as post_service
from blog.services import terms as term_service
from blog.services.posts import PostPage
from blog.services.settings import discussion_settings, site_settings
from blog.templating import month_name, post_month, post_path


def cacheable(*keys: str) -> None:
    """A reader's page showing what ``keys`` cover, and the scheduled posts due next."""
    pagecache.depends(*keys)
    if pagecache.storing():
        due = post_service.next_scheduled_at()
        pagecache.valid_until(due.timestamp() if due else None)


def _listing(
    query,
    title: str,
    endpoint: str,
    page: int,
    archive: bool = True,
    first: list | None = None,
    description: str = "",
    **endpoint_args,
):
    """A page of a list of posts. An archive (a tag, category, author or month) with nothing
    public in it is a 404, as in WordPress: it would only show that the name exists."""
    if not 1 <= page <= post_service.MAX_PAGE:
        abort(404)
    if page == 1 and "page" in (request.view_args or {}):
        # /page/1/ is the list itself: one address per page.
        return redirect(url_for(endpoint, **endpoint_args), 301)
    per_page = site_settings().posts_per_page
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)
    if not pagination.items and (page > 1 or archive):
        abort(404)
    posts = list(pagination.items)
    if first:
        # Shown first and not again below (later pages list them where they fall).
        posts = [*first, *(post for post in posts if post not in first)]
    return render_template(
        "posts/list.html",
        pagination=pagination,
        posts=posts,
        title=title,
        description=description,
        endpoint=endpoint,
        endpoint_args=endpoint_args,
    )


def legacy_redirect(path: str):
    """A 301 from the address an imported post had on the old site (its permalink's path),
    when the reader may see it; None otherwise."""
    post = post_service.by_legacy_path(path)
    if post is not None and _may_see(post):
        return redirect(post_path(post), 301)
    return None


@bp.get("/")
@bp.get("/page/<int:page>/")
def index(page: int = 1):
    # WordPress's plain links, ?p=ID and ?page_id=ID, of an imported site.
    for name in ("p", "page_id"):
        if name in request.args:
            post = post_service.by_imported_id(request.args.get(name, ""))
            if post is None or not _may_see(post):
                abort(404)
            return redirect(post_path(post), 301)
    cacheable(SITE, COMMENTS)  # lists show comment counts
    sticky = post_service.sticky_posts() if page == 1 else []
    return _listing(
        post_service.visible_posts(), "", "posts.index", page, archive=False, first=sticky
    )


@bp.get("/tag/<slug>/")
@bp.get("/tag/<slug>/page/<int:page>/")
def tag(slug: str, page: int = 1):
    cacheable(SITE, COMMENTS)  # lists show comment counts
    found = db.session.scalar(select(Tag).where(Tag.slug == slug))
    if found is None:
        # A renamed or merged tag: its old address leads to the tag it is now.
        moved = term_service.redirect_target("tag", slug) or abort(404)
        args = {"page": page} if page > 1 else {}
        return redirect(url_for("posts.tag", slug=moved.slug, **args), 301)
    query = post_service.by_tag(post_service.visible_posts(), found)
    return _listing(
        query, f"Tag: {found.name}", "posts.tag", page, description=found.description, slug=slug
    )


@bp.get("/category/<path:path>/")
def category(path: str):
    cacheable(SITE, COMMENTS)  # lists show comment counts
    slug = path.rstrip("/").split("/")[-1]
    page = request.args.get("page", 1, type=int)
    found = db.session.scalar(select(Category).where(Category.slug == slug))
    if found is None:
        moved = term_service.redirect_target("category", slug) or abort(404)
        args = {"page": page} if page > 1 else {}
        return redirect(url_for("posts.category", path=moved.slug, **args), 301)
    query = post_service.by_category(post_service.visible_posts(), found)
    return _listing(
        query,
        f"Category: {found.name}",
        "posts.category",
        page,
        description=found.description,
        path=path,
    )


@bp.get("/author/<username>/")
@bp.get("/author/<username>/page/<int:page>/")
def author(username: str, page: int = 1):
    cacheable(SITE, COMMENTS)  # lists show comment counts
    user = db.session.scalar(select(User).where(User.username == username)) or abort(404)
    query = post_service.by_author(post_service.visible_posts(), user)
    return _listing(query, f"Author: {user.name}", "posts.author", page, username=username)


@bp.get("/<int(fixed_digits=4):year>/<int(fixed_digits=2):month>/")
@bp.get("/<int(fixed_digits=4):year>/<int(fixed_digits=2):month>/page/<int:page>/")
def month(year: int, month: int, page: int = 1):
    cacheable(SITE, COMMENTS)  # lists show comment counts
    # Years 1 and 9999 would cross datetime's range once shifted by the site's time zone.
    if not 1 <= month <= 12 or not 2 <= year <= 9998:
        abort(404)
    query = post_service.by_month(post_service.visible_posts(), year, month, site_settings().tz)
    title = f"Month: {month_name(year, month)}"
    return _listing(query, title, "posts.month", page, year=year, month=month)


def _find(slug: str) -> PostPage | None:
    """The post as plain rows: its page, and what a comment on it needs."""
    if request.method == "GET":
        cacheable(SITE)
        return post_service.post_page(slug)
    return post_service.post_page(slug, with_terms=False)


def _may_see(post: Post | PostPage) -> bool:
    """A reader sees what is out; whoever may edit it sees it before."""
    if post.is_visible():
        return True
    return current_user.is_authenticated and current_user.can_edit_post(post)


def _moved(slug: str):
    """A 301 from an old slug to the post's address, if the reader may see the post."""
    moved = post_service.redirect_target(slug)
    if moved is not None and _may_see(moved):
        return redirect(post_path(moved), 301)
    return None


def _viewable(post: PostPage | None) -> PostPage:
    """The post if a reader may see it; an author sees their unpublished post as a preview."""
    if post is None or not _may_see(post):
        abort(404)
    return post


def _show(post: PostPage):
    from blog.comments.views import comment_section

    if request.method == "POST":
        from blog.comments.views import submit_comment

        return submit_comment(post)
    closing = comments_closing_at(post.published_at, discussion_settings())
    pagecache.valid_until(closing.timestamp() if closing else None)
    older, newer = post_service.neighbours(post)
    return render_template(
        "posts/post.html", post=post, older=older, newer=newer, **comment_section(post)
    )


def _comment_limit() -> str:
    return current_app.config["COMMENT_RATE_LIMIT"]


POST_URL = "/<int(fixed_digits=4):year>/<int(fixed_digits=2):month>/<slug>/"
PAGE_URL = "/<slug>/"


def _post(year: int, month: int, slug: str):
    found = _find(slug)
    if found is None and (moved := _moved(slug)) is not None:
        return moved
    found = _viewable(found)
    # Compared by parts, not as paths: request.path is decoded (a slug in Cyrillic would
    # never equal its percent-encoded address, and redirect to itself forever).
    if found.type == PostType.PAGE or (year, month) != post_month(found):
        return redirect(post_path(found), 301 if request.method == "GET" else 308)
    return _show(found)


def _page(slug: str):
    found = _find(slug)
    if found is None and (moved := _moved(slug)) is not None:
        return moved
    found = _viewable(found)
    if found.type != PostType.PAGE:
        return redirect(post_path(found), 301)
    return _show(found)


# Reading and commenting are separate views on one address, so that a reader's GET does
# not pass through the comment rate limit at all.
@bp.get(POST_URL)
@limiter.exempt
def post(year: int, month: int, slug: str):
    return _post(year, month, slug)


@bp.post(POST_URL)
@limiter.limit(_comment_limit)
def comment_on_post(year: int, month: int, slug: str):
    return _post(year, month, slug)


@bp.get(PAGE_URL)
@limiter.exempt
def page(slug: str):
    return _page(slug)


@bp.post(PAGE_URL)
@limiter.limit(_comment_limit)
def comment_on_page(slug: str):
    return _page(slug)


# The comment form is checked by the comments view itself: a reader's form comes from a
# page shared by everyone and carries a signed stamp, not a session's token.
csrf.exempt(comment_on_post)
csrf.exempt(comment_on_page)


@bp.get("/search/")
def search():
    terms = request.args.get("q", "").strip()[:200]
    page = request.args.get("page", 1, type=int)
    query = post_service.search(post_service.visible_posts(), terms)
    title = f"Search: {terms}" if terms else "Search"
    return _listing(query, title, "posts.search", page, archive=False, q=terms)


@bp.get("/archives/")
def archives():
    cacheable(SITE)
    months = post_service.month_archive_list(site_settings().tz, limit=1000)
    return render_template("posts/archives.html", months=months)


# --- a commenter's email: confirmed, and reply mail stopped (blog.services.subscriptions) ---
# The links come by mail; a GET shows a button, the POST (with its CSRF token, as every state
# change) does it: a GET changes nothing, so a mail scanner following links confirms nothing.


@bp.route("/comments/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    from blog.services import subscriptions

    try:
        email = subscriptions.email_of(token)
        if request.method == "POST":
            subscriptions.confirm(token)
            return render_template("comments/subscription.html", done="confirmed", email=email)
    except ServiceError as exc:
        return render_template("comments/subscription.html", problem=exc.message), 400
    return render_template("comments/subscription.html", ask="confirm", email=email)


@bp.route("/comments/stop-replies/<token>", methods=["GET", "POST"])
def stop_replies(token: str):
    from blog.services import subscriptions

    try:
        email, post_id = subscriptions.unsubscribe_target(token)
        if request.method == "POST":
            subscriptions.unsubscribe(token)
            return render_template("comments/subscription.html", done="stopped", email=email)
    except ServiceError as exc:
        return render_template("comments/subscription.html", problem=exc.message), 400
    post = db.session.get(Post, post_id)
    return render_template(
        "comments/subscription.html", ask="stop", email=email, post_title=post.title if post else ""
    )

