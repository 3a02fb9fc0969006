from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import Optional


class CommentForm(FlaskForm):
    """Field names are WordPress's (INTERFACE.md). Limits and checks live in the service, so
    the API and the importer apply the very same ones; here the values are only collected.

    ``csrf_token`` is checked by the view, not by Flask-WTF: for a reader without a session
    it carries the post's signed stamp (``blog.comments.tokens``), for a logged-in user the
    session-bound token, with the stamp in ``rendered`` for the time trap.
    """

    class Meta:
        csrf = False

    author = StringField("Name")
    email = StringField("Email")
    url = StringField("Website")
    comment = TextAreaField("Comment")
    comment_parent = IntegerField("Reply to", default=0, validators=[Optional()])
    remember = BooleanField(
        "Save my name, email, and website in this browser for the next time I comment."
    )
    notify = BooleanField("Email me when my comment is approved.")
    csrf_token = HiddenField()
    rendered = HiddenField()
