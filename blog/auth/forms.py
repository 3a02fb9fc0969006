from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from blog.services.users import MAX_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    remember = BooleanField("Remember me")


class EmptyForm(FlaskForm):
    """A form with only the CSRF token: for buttons that change state (logout, approve...)."""


class SetPasswordForm(FlaskForm):
    """A new password, from a one-time link (``/password/TOKEN``)."""

    password = PasswordField(
        "New password",
        validators=[DataRequired("Type a password."), Length(max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        "The same again",
        validators=[EqualTo("password", "The two passwords are not the same.")],
    )
