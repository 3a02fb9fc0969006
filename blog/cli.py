"""flask commands: user, post, token, outbox, backup, restore, wxr, bootstrap (INTERFACE.md)."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from blog.extensions import db
from blog.models import Role, User, utcnow
from blog.services import ServiceError
from blog.services import posts as post_service
from blog.services import users as user_service

WELCOME_POST = """\
Welcome to your new blog. This is your first post: edit or delete it, then start writing.

Posts are written in **Markdown**. You can use:

- lists, *emphasis* and [links](https://example.com),
- tables and footnotes[^1],
- and fenced code:

```python
print("Hello, readers!")
```

Readers can leave comments below. Held comments wait in the moderation queue under
*Admin → Comments*, each with the reasons it was held.

[^1]: Like this one.
"""


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def register(app: Flask) -> None:
    @app.cli.group()
    def user() -> None:
        """Manage users."""

    @user.command("create")
    @click.argument("name")
    @click.option("--role", type=click.Choice([r.value for r in Role]), default="subscriber")
    @click.option("--email", default="")
    @click.option("--password", default=None, help="Asked for, or read from standard input.")
    def user_create(name: str, role: str, email: str, password: str | None) -> None:
        """Create a user."""
        try:
            created = user_service.create_user(name, _read_password(password), role, email)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Created {created.role.value} {created.username!r}.")

    @app.cli.group()
    def post() -> None:
        """Manage posts."""

    @post.command("create")
    @click.option("--author", required=True, help="Username of the author.")
    @click.option("--title", required=True)
    @click.option(
        "--body-file",
        type=click.File("r", encoding="utf-8"),
        default=None,
        help="Markdown file; - for standard input.",
    )
    @click.option("--publish", is_flag=True, help="Publish now instead of saving a draft.")
    def post_create(author: str, title: str, body_file, publish: bool) -> None:
        """Create a post and print its path."""
        found = user_service.find_user(author)
        if found is None:
            raise click.ClickException(f"No user {author!r}.")
        body = body_file.read() if body_file else ""
        try:
            created = post_service.create_post(
                found,
                post_service.PostInput(title=title, body=body),
                action="publish" if publish else "draft",
            )
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        from blog.templating import post_path

        with current_app.test_request_context():
            click.echo(post_path(created))

    @app.cli.group()
    def token() -> None:
        """Manage API tokens."""

    @token.command("create")
    @click.argument("name")
    @click.option("--name", "label", default="", help="What the token is for.")
    @click.option("--expires-days", type=click.IntRange(min=1), default=None)
    def token_create(name: str, label: str, expires_days: int | None) -> None:
        """Print a new API token for user NAME (shown once, stored hashed)."""
        found = _user(name)
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        try:
            click.echo(user_service.create_token(found, label, expires))
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None

    @token.command("list")
    @click.argument("name")
    def token_list(name: str) -> None:
        """List user NAME's API tokens (never the tokens themselves)."""
        rows = user_service.tokens_of(_user(name))
        if not rows:
            click.echo(f"{name} has no API tokens.")
        for row in rows:
            used = row.last_used_at.isoformat(timespec="minutes") if row.last_used_at else "never"
            expires = row.expires_at.isoformat(timespec="minutes") if row.expires_at else "never"
            click.echo(
                f"{row.id}\t{row.prefix}…\t{row.name or '-'}\tcreated "
                f"{row.created_at.isoformat(timespec='minutes')}\tlast used {used}"
                f"\texpires {expires}"
            )

    @token.command("revoke")
    @click.argument("token_id", type=int)
    def token_revoke(token_id: int) -> None:
        """Revoke the API token with id TOKEN_ID (see token list)."""
        try:
            row = user_service.revoke_token(token_id, None)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Revoked token {row.id} ({row.prefix}…).")

    @app.cli.group()
    def outbox() -> None:
        """Deliver the notifications waiting in the outbox."""

    @outbox.command("run")
    @click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
    def outbox_run(once: bool) -> None:
        """Deliver due messages, then keep watching (for a process of its own; the app's
        own threads can be turned off with OUTBOX_WORKER=false)."""
        import time

        from blog.services import outbox as outbox_service

        poll = float(app.config["OUTBOX_POLL_SECONDS"])
        while True:
            tried = 0
            while batch := outbox_service.deliver_due():
                tried += batch
            if once:
                counts = outbox_service.counts()
                click.echo(
                    f"Tried {tried}; {counts['pending']} pending, {counts['dead']} dead, "
                    f"{counts['sent']} sent."
                )
                return
            wait = outbox_service.seconds_until_next()
            time.sleep(min(poll, wait) if wait is not None else poll)

    @app.cli.command("backup")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write it (default: instance/backups/blog-DATE-TIME.db or .dump).",
    )
    @click.option(
        "--uploads/--no-uploads",
        default=True,
        show_default=True,
        help="Also copy the media library's files, to NAME.uploads.tar beside the database.",
    )
    def backup_command(output: Path | None, uploads: bool) -> None:
        """A consistent copy of the database, taken while the blog serves, and the media
        library's files beside it."""
        from blog.services import backup as backup_service
        from blog.services import media as media_service

        uri = app.config["SQLALCHEMY_DATABASE_URI"]
        target = output or backup_service.default_name(uri, Path(app.instance_path), utcnow())
        files_target = backup_service.uploads_name(target)
        try:
            if uploads and files_target.exists():  # before the database copy, not after it
                raise ServiceError(f"{files_target} exists already: name a new file.")
            written = backup_service.backup(uri, target)
            click.echo(f"Backed up to {written} ({written.stat().st_size:,} bytes).")
            if uploads:
                folder = media_service.upload_folder()
                count, size = backup_service.backup_uploads(folder, files_target)
                if count:
                    click.echo(f"Uploaded files: {files_target} ({count:,} files, {size:,} bytes).")
                else:
                    click.echo(f"No uploaded files in {folder} to back up.")
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None

    @app.cli.group()
    def wxr() -> None:
        """Move a WordPress site in, or this one out (WordPress eXtended RSS)."""

    @wxr.command("import")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--author-map",
        "author_map",
        multiple=True,
        metavar="OLD=NEW",
        help="Give the posts of WordPress author OLD to the existing user NEW (repeatable).",
    )
    @click.option("--dry-run", is_flag=True, help="Read and check everything; store nothing.")
    def wxr_import(source: Path, author_map: tuple[str, ...], dry_run: bool) -> None:
        """Import the WordPress export SOURCE: all of it, or nothing."""
        from tqdm import tqdm

        from blog.services import wxr_import as wxr_service

        mapping: dict[str, str] = {}
        for pair in author_map:
            old, sep, new = pair.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise click.BadParameter(f"{pair!r} is not OLD=NEW", param_hint="--author-map")
            mapping[old.strip()] = new.strip()
        bar = tqdm(
            total=source.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="Importing",
            disable=not sys.stderr.isatty(),
        )
        try:
            summary = wxr_service.import_file(source, mapping, dry_run=dry_run, on_read=bar.update)
        except ServiceError as exc:
            bar.close()
            raise click.ClickException(exc.message) from None
        bar.close()
        click.echo(wxr_service.summary_text(summary))
        if dry_run:
            click.echo("Dry run: nothing was stored.")

    @wxr.command("export")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write it ('-' for standard output). Default: "
        "instance/exports/SITE.wordpress.DATE.xml",
    )
    def wxr_export(output: Path | None) -> None:
        """Export the whole site as a WordPress eXtended RSS 1.2 file (WordPress imports it)."""
        from tqdm import tqdm

        from blog.services import wxr_export as export_service

        to_stdout = output is not None and str(output) == "-"
        if output is None:
            output = export_service.default_path(Path(app.instance_path), utcnow())
        bar = tqdm(
            total=export_service.item_count(),
            unit=" items",
            desc="Exporting",
            disable=not sys.stderr.isatty(),
        )
        try:
            if to_stdout:
                summary = export_service.export(sys.stdout.buffer, on_item=bar.update)
                sys.stdout.buffer.flush()
            else:
                summary = export_service.export_to(output, on_item=bar.update)
        except ServiceError as exc:
            bar.close()
            raise click.ClickException(exc.message) from None
        bar.close()
        # The counts go to standard error when the file itself goes to standard output.
        click.echo(export_service.summary_text(summary), err=to_stdout)
        if not to_stdout:
            click.echo(f"Written to {output} ({output.stat().st_size:,} bytes).")

    @app.cli.group()
    def privacy() -> None:
        """A commenter's personal data: export it, erase it; forget old IP addresses."""

    @privacy.command("export")
    @click.argument("email")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the JSON here instead of standard output.",
    )
    def privacy_export(email: str, output: Path | None) -> None:
        """Everything stored about the commenter with EMAIL, as JSON."""
        from blog.services import privacy as privacy_service

        try:
            data = privacy_service.personal_data(email)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            click.echo(
                f"{len(data['comments'])} comment(s) of {data['email']} written to {output}."
            )

    @privacy.command("erase")
    @click.argument("email")
    @click.option("--delete", is_flag=True, help="Delete the comments instead of anonymising them.")
    def privacy_erase(email: str, delete: bool) -> None:
        """Anonymise (or --delete) every comment sent with EMAIL; logged."""
        from blog.services import privacy as privacy_service

        try:
            erasure = privacy_service.erase(email, actor=None, delete=delete)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo("\n".join(erasure.lines()))

    @privacy.command("purge-ips")
    def privacy_purge_ips() -> None:
        """Forget the IP address and browser of comments older than COMMENT_IP_RETENTION_DAYS."""
        from blog.services import privacy as privacy_service

        days = int(app.config.get("COMMENT_IP_RETENTION_DAYS", 60))
        if days <= 0:
            click.echo("COMMENT_IP_RETENTION_DAYS is 0: addresses are kept.")
            return
        changed = privacy_service.purge_addresses(days=days)
        click.echo(
            f"Forgot the IP address and browser of {changed} comment(s) older than {days} days."
        )

    @app.cli.group("spam")
    def spam_group() -> None:
        """The spam filter: learn every decision again; measure it on this site's comments."""

    @spam_group.command("retrain")
    @click.option(
        "--model",
        type=click.Choice(["logistic", "bayes"]),
        default=None,
        help="The learner (default: the one in use, logistic at first).",
    )
    def spam_retrain(model: str | None) -> None:
        """Forget the model and learn every spam / not-spam decision again, oldest first."""
        from blog.services import spam as spam_service

        learned = spam_service.retrain(model)
        click.echo(
            f"Learned ({learned.kind}) from {learned.spam_examples} spam and "
            f"{learned.ham_examples} good comments; the model holds "
            f"{spam_service.model_size():,} feature rows."
        )

    @spam_group.command("evaluate")
    @click.option("--folds", type=click.IntRange(2, 100), default=10, show_default=True)
    def spam_evaluate(folds: int) -> None:
        """Cross-validation over this site's moderated comments: each learner is trained on
        all but one part, in time order, and scored on that part."""
        from blog.services import settings as settings_service
        from blog.services import spam as spam_service

        settings = settings_service.discussion_settings()
        hold, spam_at = settings.spam_hold_percent / 100, settings.spam_percent / 100
        results = spam_service.evaluate(folds)
        for kind, result in results.items():
            positives = sum(result.labels)
            if not positives or positives == len(result.labels):
                click.echo(f"{kind}: needs both spam and good decisions to measure.")
                continue
            click.echo(
                f"{kind}: {len(result.labels)} comments ({positives} spam), {folds} folds; "
                f"ROC AUC {result.auc:.4f}"
            )
            for label, threshold in (("hold", hold), ("spam", spam_at)):
                rates = result.at(threshold)
                click.echo(
                    f"  at the {label} score {threshold:.0%}: precision {rates.precision:.1%}, "
                    f"recall {rates.caught:.1%} of spam, false positives "
                    f"{rates.false_positive:.1%} of good comments"
                )

    @app.cli.command("restore")
    @click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--uploads",
        "uploads",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The media library's files to put back (default: SOURCE's NAME.uploads.tar, "
        "when there is one).",
    )
    def restore_command(source: Path, uploads: Path | None) -> None:
        """Put the backup SOURCE into the configured database, which must be empty, and
        its uploaded files into the upload folder."""
        from blog.services import backup as backup_service
        from blog.services import media as media_service

        if uploads is None and backup_service.uploads_name(source).is_file():
            uploads = backup_service.uploads_name(source)
        try:
            if uploads is not None:
                backup_service.check_uploads(uploads)  # a bad tar stops it before anything
            backup_service.restore(app.config["SQLALCHEMY_DATABASE_URI"], source, db.engine)
            click.echo(f"Restored {source}.")
            if uploads is not None:
                folder = media_service.upload_folder()
                count = backup_service.restore_uploads(uploads, folder)
                click.echo(f"Restored {count:,} uploaded files from {uploads} into {folder}.")
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo("Run 'db upgrade' if the backup is from an older version.")

    @app.cli.command("bootstrap")
    @click.option(
        "--url",
        default=None,
        help="Where the blog is served (make run passes its HOST and PORT); default SITE_URL.",
    )
    def bootstrap(url: str | None) -> None:
        """First run: an admin with a random password (printed once) and a welcome post.

        Every run: comment fragments stored by an older version of their markup (or
        settings) are rendered again, so pages stop rendering them on the fly, and so are
        post bodies whose code blocks do not take the keyboard focus yet."""
        from blog.services import comment_html

        refreshed = comment_html.refresh_all(db.session)
        if refreshed:
            click.echo(f"Rendered {refreshed} stored comment fragments again.")
        bodies = post_service.render_unfocusable_code_again()
        if bodies:
            click.echo(f"Rendered {bodies} post bodies with code blocks again.")
        if db.session.scalar(select(func.count()).select_from(User)):
            click.echo("The blog already has users; nothing to do.")
            return
        password = secrets.token_urlsafe(12)
        admin = user_service.create_user("admin", password, Role.ADMIN)
        post_service.create_post(
            admin,
            post_service.PostInput(
                title="Welcome to your blog",
                body=WELCOME_POST,
                tags=["welcome"],
                categories=["General"],
            ),
            action="publish",
        )
        click.echo("=" * 64)
        click.echo(f"  Your blog is ready. Log in at {_login_url(url or app.config['SITE_URL'])}")
        click.echo("    username: admin")
        click.echo(f"    password: {password}")
        click.echo("  This password is shown only now: note it, or change it with")
        click.echo("  `flask --app app user password admin`.")
        click.echo("=" * 64)

    @app.cli.group()
    def bench() -> None:
        """Benchmark helpers (make bench)."""

    @bench.command("seed")
    @click.option("--posts", "posts", type=click.IntRange(min=0), default=10, show_default=True)
    @click.option(
        "--comments", "comments", type=click.IntRange(min=0), default=1000, show_default=True
    )
    @click.option("--depth", type=click.IntRange(1, 10), default=3, show_default=True)
    @click.option("--held-share", type=click.FloatRange(0, 1), default=0.3, show_default=True)
    @click.option("--post", "post_slug", default=None, help="Put every comment on this post.")
    @click.option("--seed", "seed_value", type=int, default=0, help="Random seed.")
    def bench_seed(
        posts: int,
        comments: int,
        depth: int,
        held_share: float,
        post_slug: str | None,
        seed_value: int,
    ) -> None:
        """Fill the database with N published posts and M threaded comments."""
        from blog.services import bench as bench_service

        with click.progressbar(length=comments, label="Comments", show_pos=True) as bar:
            try:
                report = bench_service.seed(
                    posts,
                    comments,
                    depth,
                    held_share,
                    post_slug,
                    progress=bar.update,
                    seed_value=seed_value,
                )
            except ServiceError as exc:
                raise click.ClickException(exc.message) from None
        click.echo(
            f"Seeded {report.posts} posts and {report.comments} comments "
            f"({report.held} held) on {len(report.post_ids)} posts."
        )

    @user.command("password")
    @click.argument("name")
    @click.option("--password", default=None, help="Asked for, or read from standard input.")
    @click.option("--revoke-tokens", is_flag=True, help="Revoke the user's API tokens too.")
    def user_password(name: str, password: str | None, revoke_tokens: bool) -> None:
        """Set a user's password (ends every session of theirs)."""
        found = _user(name)
        try:
            tokens = user_service.set_password(found, _read_password(password), revoke_tokens)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Password changed for {name!r}; every session of theirs has ended.")
        click.echo(
            f"{tokens} API tokens revoked."
            if revoke_tokens
            else "API tokens were kept (--revoke-tokens revokes them)."
        )

    @user.command("logout-everywhere")
    @click.argument("name")
    @click.option("--revoke-tokens", is_flag=True, help="Revoke the user's API tokens too.")
    def user_logout_everywhere(name: str, revoke_tokens: bool) -> None:
        """End every session of user NAME (every browser must log in again)."""
        sessions, tokens = user_service.end_other_sessions(_user(name), revoke_tokens)
        kept = "" if revoke_tokens else " API tokens were kept (--revoke-tokens revokes them)."
        click.echo(f"Ended {sessions} sessions of {name!r}; revoked {tokens} API tokens.{kept}")

    def _user(name: str) -> User:
        found = user_service.find_user(name)
        if found is None:
            raise click.ClickException(f"No user {name!r}.")
        return found


def _login_url(base: str) -> str:
    """The login page under ``base``; a server listening on every address (0.0.0.0, ::) is
    reached on this machine at 127.0.0.1."""
    parts = urlsplit(base.strip())
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - an address to listen on, not to visit
        host = "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme or "http", netloc, parts.path.rstrip("/") + "/login", "", ""))
