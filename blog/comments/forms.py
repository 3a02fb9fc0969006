from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import Optional


class CommentForm(FlaskForm):
    """Field names are WordPress's (INTERFACE.md). Limits and checks live in the service, so
    the API and the importer apply the very same ones; here the values are only collected."""

    author = StringField("Name")
    email = StringField("Email")
    url = StringField("Website")
    comment = TextAreaField("Comment")
    comment_parent = IntegerField("Reply to", default=0, validators=[Optional()])
    remember = BooleanField(
        "Save my name, email, and website in this browser for the next time I comment."
    )
    notify = BooleanField("Email me when my comment is approved.")
    # Signed time the form was rendered: the time trap (COMMENT_MIN_FILL_SECONDS).
    rendered = HiddenField()
