from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from blog.dates import LANGUAGES
from blog.models import Role
from blog.services.media import ALT_MAX
from blog.services.posts import BODY_MAX, EXCERPT_MAX, SLUG_MAX, TITLE_MAX
from blog.services.users import (
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
)


class PostForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired("Give the post a title."), Length(max=TITLE_MAX)]
    )
    slug = StringField(
        "Slug",
        validators=[Optional(), Length(max=SLUG_MAX)],
        description="The last part of the address. Empty: made from the title.",
    )
    body = TextAreaField("Body (Markdown)", validators=[Length(max=BODY_MAX)])
    excerpt = TextAreaField(
        "Excerpt",
        validators=[Optional(), Length(max=EXCERPT_MAX)],
        description="Shown on lists; empty: the start of the post.",
    )
    tags = StringField(
        "Tags", validators=[Optional(), Length(max=2000)], description="Separated by commas."
    )
    categories = StringField(
        "Categories",
        validators=[Optional(), Length(max=2000)],
        description='Separated by commas; "Parent/Child" for a subcategory.',
    )
    type = SelectField(
        "Type", choices=[SelectChoice("post", "Post"), SelectChoice("page", "Page")], default="post"
    )
    comments_open = BooleanField("Allow comments", default=True)
    published_at = DateTimeLocalField(
        "Publish time",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="In the site's time zone. A time in the future schedules the post.",
    )


class GeneralSettingsForm(FlaskForm):
    site_name = StringField("Site title", validators=[DataRequired(), Length(max=200)])
    site_description = StringField("Tagline", validators=[Optional(), Length(max=300)])
    timezone = StringField(
        "Time zone",
        validators=[DataRequired(), Length(max=64)],
        description="An IANA name such as Europe/Paris or America/New_York.",
    )
    posts_per_page = IntegerField("Blog pages show at most", validators=[NumberRange(1, 100)])
    language = SelectField(
        "Site language",
        choices=[SelectChoice(code, lang.name) for code, lang in LANGUAGES.items()],
        default="",
        # Checked by the service (which says what is wrong); absent, it stays as it is.
        validate_choice=False,
        description="Month names and dates on readers' pages (WordPress's WPLANG).",
    )
    image_hosts = TextAreaField(
        "Images from other sites",
        validators=[Length(max=2000)],
        render_kw={"rows": 3, "spellcheck": "false"},
        description='Where post images may come from, one a line: "https:" for any HTTPS '
        'site, or addresses like "https://images.example.com"; empty: this site only. '
        "Readers' browsers are allowed to load images from these and no others.",
    )


class DiscussionSettingsForm(FlaskForm):
    """WordPress's Settings → Discussion, with its names, meanings and defaults."""

    default_comment_status_open = BooleanField("Allow people to submit comments on new posts")
    comment_registration = BooleanField("Users must be registered and logged in to comment")
    require_name_email = BooleanField("Comment author must fill out name and email")
    close_comments_for_old_posts = BooleanField("Automatically close comments on old posts")
    close_comments_days_old = IntegerField(
        "Close comments on posts older than (days)", validators=[NumberRange(1, 36500)]
    )
    thread_comments = BooleanField("Enable threaded (nested) comments")
    thread_comments_depth = IntegerField("Levels deep", validators=[NumberRange(2, 10)])
    page_comments = BooleanField("Break comments into pages")
    comments_per_page = IntegerField(
        "Top level comments per page", validators=[NumberRange(1, 1000)]
    )
    default_comments_page = SelectField(
        "Page displayed by default",
        choices=[SelectChoice("newest", "last"), SelectChoice("oldest", "first")],
    )
    comment_order = SelectField(
        "Comments at the top of each page",
        choices=[SelectChoice("asc", "older"), SelectChoice("desc", "newer")],
    )
    comments_notify = BooleanField("Email me whenever anyone posts a comment")
    moderation_notify = BooleanField("Email me whenever a comment is held for moderation")
    comment_moderation = BooleanField("Comment must be manually approved")
    comment_previously_approved = BooleanField(
        "Comment author must have a previously approved comment"
    )
    comment_max_links = IntegerField(
        "Hold a comment in the queue if it contains this many links or more (0: never)",
        validators=[NumberRange(0, 100)],
    )
    moderation_keys = TextAreaField(
        "Comment moderation words",
        validators=[Length(max=65535)],
        render_kw={"rows": 6},
        description="One word or IP address per line. A comment that contains any of them in "
        "its content, name, URL, email, IP address or browser's user agent is held.",
    )
    disallowed_keys = TextAreaField(
        "Disallowed comment keys",
        validators=[Length(max=65535)],
        render_kw={"rows": 6},
        description="Same matching; such a comment is put in the trash.",
    )
    spam_hold_percent = IntegerField(
        "Hold a comment when its spam score is at least (%)",
        validators=[NumberRange(1, 100)],
    )
    spam_percent = IntegerField(
        "Send a comment to spam when its spam score is at least (%)",
        validators=[NumberRange(1, 100)],
    )
    spam_min_decisions = IntegerField(
        "Let the filter act once it has learned from this many spam and this many good "
        "comments",
        validators=[NumberRange(0, 100_000)],
        description="Before that it only says what it thinks, as a reason in the queue. It "
        "learns from your decisions: spam, not spam, approving a held comment.",
    )
    show_avatars = BooleanField("Show avatars")
    avatar_source = SelectField(
        "Avatars come from",
        choices=[SelectChoice("gravatar", "Gravatar"), SelectChoice("local", "This site only")],
        description="Gravatar: readers' browsers load each avatar from gravatar.com. This site "
        "only: a pattern drawn from the email, so browsers ask no other site. A commenter "
        "without an email always gets their initials.",
    )
    comment_whitelist = TextAreaField(
        "Allowed HTML in comments",
        validators=[DataRequired(), Length(max=5000)],
        render_kw={"rows": 14, "spellcheck": "false"},
        description="One tag per line followed by its allowed attributes, e.g. "
        '"a href title". Shown to commenters under the comment form and enforced on every '
        "comment.",
    )


class CommentEditForm(FlaskForm):
    author = StringField("Name")
    email = StringField("Email")
    url = StringField("Website")
    comment = TextAreaField("Comment", render_kw={"rows": 10})


class CommentReplyForm(FlaskForm):
    reply = TextAreaField("Reply", validators=[DataRequired("Type a reply first.")])


class TokenForm(FlaskForm):
    """A new API token: what it is for, and when it stops working."""

    name = StringField("What it is for", validators=[Length(max=100)])
    expires_days = SelectField(
        "Expires",
        choices=[
            SelectChoice("", "Never"),
            SelectChoice("30", "In 30 days"),
            SelectChoice("90", "In 90 days"),
            SelectChoice("365", "In a year"),
        ],
        default="90",
    )


class LogoutEverywhereForm(FlaskForm):
    revoke_tokens = BooleanField("Revoke my API tokens too", default=True)


class ImportForm(FlaskForm):
    """A WordPress export to import (``/admin/import``)."""

    file = FileField(
        "WordPress export file (.xml)",
        validators=[FileRequired("Choose the .xml file WordPress's Tools → Export gave you.")],
    )
    dry_run = BooleanField("Only check the file: report what would be imported, store nothing")


class PrivacyForm(FlaskForm):
    """A commenter's email, for the personal data tools (``/admin/privacy``)."""

    email = StringField(
        "Commenter's email",
        validators=[DataRequired("Give the email the comments were sent with."), Length(max=100)],
    )
    delete = BooleanField("Delete the comments instead of anonymising them")


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role.value.capitalize()) for role in Role]


class UserEditForm(FlaskForm):
    """A user's name, email and role (``/admin/users/ID``)."""

    display_name = StringField(
        "Display name",
        validators=[Length(max=DISPLAY_NAME_MAX)],
        description="What readers see as the author of posts. Empty: the username.",
    )
    email = StringField("Email", validators=[Length(max=EMAIL_MAX)])
    role = SelectField("Role", choices=_role_choices(), default=Role.SUBSCRIBER.value)


class UserCreateForm(UserEditForm):
    """A new user (``/admin/users/new``)."""

    username = StringField(
        "Username",
        validators=[DataRequired("Give the user a username."), Length(max=60)],
        description="Letters, digits and _ . @ -; used to log in, and cannot be changed.",
    )
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Empty: you get a one-time "
        "link for the user to choose their own (mailed to them when mail is set up).",
    )


class TermForm(FlaskForm):
    """A tag or category: add (``/admin/tags``) and edit (``/admin/tags/ID``). Limits are
    checked by the terms service, so the form keeps over-long input to show it back."""

    name = StringField("Name", description="As it appears on the site.")
    slug = StringField(
        "Slug",
        description="The last part of the archive's address: letters, digits and hyphens. "
        "Empty: made from the name.",
    )
    parent = SelectField("Parent category", choices=[], validate_choice=False)
    description = TextAreaField(
        "Description",
        render_kw={"rows": 4},
        description="Plain text, shown at the top of the archive page.",
    )


class MergeForm(FlaskForm):
    """Merge a term into another, named by slug or name; ``confirm`` is the second step."""

    target = StringField("Merge into", description="The slug or the name of the other one.")
    confirm = StringField()


class MediaUploadForm(FlaskForm):
    """One file for the media library (``/admin/media/upload``), from the library page or
    the editor."""

    file = FileField("File", validators=[FileRequired("Choose a file to upload.")])


class AltTextForm(FlaskForm):
    """An image's alt text: what a reader who cannot see it is told."""

    alt_text = StringField("Alt text", validators=[Length(max=ALT_MAX)])
