"""Flask-WTF forms (CSRF-protected) for the member pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class ActivateForm(FlaskForm):
    card_no = StringField(_l("Card number"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=50)])
    id_number = StringField(_l("Resident ID number"), validators=[DataRequired(), Length(max=32)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=32)])
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LoginForm(FlaskForm):
    username = StringField(_l("Card number"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ResetPasswordForm(FlaskForm):
    """Forgotten password: the card number, the code the union gave, a new password."""

    card_no = StringField(_l("Card number"), validators=[DataRequired(), Length(max=32)])
    code = StringField(_l("Reset code from your union"),
                       validators=[DataRequired(), Length(max=16)])  # fmt: skip
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST."""
