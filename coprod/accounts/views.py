"""Log in, invitations, password reset, profile and tokens: parse, call operations, render."""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user

from coprod import policy
from coprod.accounts import oidc, operations, queries, sessions, throttle, twofactor
from coprod.accounts.auth import authenticate, start_session
from coprod.accounts.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignUpForm,
    TokenForm,
    timezone_choices,
)
from coprod.accounts.models import ApiToken, Invitation, User
from coprod.common import OperationError
from coprod.extensions import db, limiter
from coprod.forms import CoprodForm
from coprod.forms import show_refusal as show_error
from coprod.i18n import select_locale

bp = Blueprint("accounts", __name__)


# -- helpers --------------------------------------------------------------------------------

@bp.context_processor
def _account_page_helpers() -> dict:
    return {"min_password_length": operations.MIN_PASSWORD_LENGTH}


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: log-in never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch in target for ch in "\\\r\n\t"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def end_session() -> None:
    """Forget everything of this session, then log out (which also drops remember-me)."""
    session.clear()  # first: logout_user() leaves the note that deletes the remember cookie
    logout_user()


def _form_status(form: CoprodForm) -> int:
    """200 for a fresh form, 422 for a submitted one that did not pass."""
    return 422 if request.method == "POST" and (form.errors or form.form_errors) else 200


def _dashboard_url() -> str:
    return url_for("spaces.dashboard")


def _limit(setting: str):
    """A rate limit read from the configuration at request time (tests may change it)."""
    return lambda: current_app.config[setting]


def _submitted_email_key() -> str:
    """Per-account limits key on the submitted address, whether an account exists or not."""
    return "account:" + operations.normalize_email(request.form.get("email", ""))


def _login_failed(response) -> bool:
    """Only wrong credentials count: the limits slow guessing, and a person logging in on
    several devices (or an office behind one address) must not lock themselves out.

    The limit is tested before the password check and deducted after it, so requests in
    flight at the same moment can overshoot it by at most the number of server workers.
    """
    return bool(g.get("login_failed"))


def _seconds_until_retry() -> int:
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.reset_at - time.time()))


@bp.errorhandler(429)
def too_many_attempts(exc):
    """A limited form answers with its own page and a clear message, not a bare error."""
    seconds = _seconds_until_retry()
    message = ngettext("Too many attempts. Wait %(num)d minute and try again.",
                       "Too many attempts. Wait %(num)d minutes and try again.",
                       max(1, round(seconds / 60)))
    if request.endpoint == "accounts.forgot_password":
        form = ForgotPasswordForm()
        form.form_errors.append(message)
        page = render_template("accounts/forgot_password.html", form=form)
    elif request.endpoint == "accounts.login":
        form = LoginForm()
        form.form_errors.append(message)
        page = render_template("accounts/login.html", form=form,
                               next_url=safe_next(request.args.get("next")))
    else:
        page = render_template("error.html", code=429, name=_("Too many requests"),
                               message=message)
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


# -- log in, log out ------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN_PER_ADDRESS"), methods=["POST"],
               deduct_when=_login_failed)
@limiter.limit(_limit("RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS"),
               key_func=throttle.account_and_address_key, methods=["POST"],
               deduct_when=_login_failed, cost=throttle.failure_cost)
def login():
    """Email and password; the same answer whether the address is unknown or the password wrong.
    Failures are throttled per address and per (account, address), never per account alone:
    see coprod/accounts/throttle.py."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or _dashboard_url())
    form = LoginForm()
    refusal = oidc.password_login_refusal(form.email.data) if form.is_submitted() else None
    if refusal:  # the address's domain signs in through its identity provider only
        form.form_errors.append(refusal)
    elif form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None and user.is_active:
            # Logs in, or asks for the second factor first (coprod/accounts/twofactor.py).
            response = twofactor.complete_first_factor(user, form.remember.data,
                                                       next_url or _dashboard_url())
            throttle.remember_device(response, user.email)
            return response
        g.login_failed = True
        throttle.note_failure()
        if user is None:
            form.form_errors.append(_("Wrong email or password."))
        else:  # only someone who knows the password learns this
            form.form_errors.append(
                _("This account is deactivated. Ask a coordinator of your collaboration."))
    return render_template("accounts/login.html", form=form, next_url=next_url), \
        _form_status(form)


@bp.route("/logout", methods=["POST"])
def logout():
    """End this device's log-in on the server (POST only: a link or an image cannot log anyone
    out). The log-in's row goes, so a cookie copied before log-out stops working too; the
    account's other devices stay logged in (the profile ends those)."""
    if current_user.is_authenticated and current_user.current_session is not None:
        sessions.end_session(current_user, current_user.current_session.id)
    end_session()
    flash(_("You are logged out."), "info")
    return redirect(safe_next(request.args.get("next")) or url_for("accounts.login"))


# -- invitations ----------------------------------------------------------------------------

@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """The link of an invitation email: sign up, or log in and accept, once."""
    try:
        invitation = operations.invitation_from_token(token)
    except OperationError as err:
        return render_template("accounts/link_invalid.html", title=_("Invitation"),
                               message=err.message), err.status
    if current_user.is_authenticated:
        return _accept_as_current_user(invitation, token)
    if operations.find_user_by_email(invitation.email) is not None:
        login_url = url_for("accounts.login",
                            next=url_for("accounts.accept_invitation", token=token))
        return render_template("accounts/invitation.html", invitation=invitation,
                               state="log_in", login_url=login_url)
    found = oidc.provider_for_email(invitation.email)
    if found is not None and not found[1].password_login:  # no password: the provider's account
        return render_template("accounts/invitation.html", invitation=invitation, token=token,
                               state="sso", provider=found[0])
    return _sign_up(invitation, token)


def _invitation_page(invitation: Invitation, token: str, state: str, form=None,
                     status: int = 200):
    return render_template("accounts/invitation.html", invitation=invitation, token=token,
                           state=state, form=form), status


def _accept_as_current_user(invitation: Invitation, token: str):
    """Logged in: accept if the invitation is for this account, else say whose it is."""
    user: User = current_user._get_current_object()
    if operations.normalize_email(user.email) != invitation.email:
        status = 403 if request.method == "POST" else 200
        return _invitation_page(invitation, token, "other_account", status=status)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            operations.accept_invitation(invitation, user)
        except OperationError as err:
            db.session.rollback()
            show_error(form, err)
            return _invitation_page(invitation, token, "accept", form, err.status)
        collaboration_id = invitation.collaboration_id
        flash(_("You joined %(title)s.", title=invitation.collaboration.title), "success")
        return redirect(url_for("spaces.collaboration", collaboration_id=collaboration_id))
    return _invitation_page(invitation, token, "accept", form, _form_status(form))


def _default_timezone(invitation: Invitation) -> str:
    """The collaboration's own zone is the best guess for someone joining it."""
    zone = invitation.collaboration.timezone
    choices = {choice.value for choice in timezone_choices()}
    return zone if zone in choices else current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _sign_up(invitation: Invitation, token: str):
    """No account yet for the invited address: create it, join, log in, all at once."""
    form = SignUpForm()
    form.fill_choices()
    if request.method == "GET":
        form.locale.data = select_locale()
        form.timezone.data = _default_timezone(invitation)
        form.display_name.data = invitation.name  # given by the inviter, if any
    if form.validate_on_submit():
        try:
            user = operations.create_user(invitation.email, form.display_name.data,
                                          form.password.data, form.locale.data,
                                          form.timezone.data)
            operations.accept_invitation(invitation, user)
        except OperationError as err:
            db.session.rollback()
            show_error(form, err)
            return _invitation_page(invitation, token, "sign_up", form, err.status)
        collaboration_id, title = invitation.collaboration_id, invitation.collaboration.title
        start_session(user)
        flash(_("Welcome to Coprod. You joined %(title)s.", title=title), "success")
        return redirect(url_for("spaces.collaboration", collaboration_id=collaboration_id))
    return _invitation_page(invitation, token, "sign_up", form, _form_status(form))


# -- password reset -------------------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_PASSWORD_RESET_PER_ADDRESS"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_PASSWORD_RESET_PER_ACCOUNT"), key_func=_submitted_email_key,
               methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer never tells whether the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        operations.request_password_reset(form.email.data)
        return redirect(url_for("accounts.forgot_password_sent"))
    return render_template("accounts/forgot_password.html", form=form), _form_status(form)


@bp.route("/password/forgot/sent")
def forgot_password_sent():
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE_MINUTES"]
    return render_template("accounts/forgot_password_sent.html", minutes=minutes)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The link of a reset email: choose a new password, then be logged in. Works once."""
    try:
        operations.user_from_reset_token(token)
    except OperationError as err:
        return render_template("accounts/link_invalid.html", title=_("Password reset"),
                               message=err.message, retry_reset=True), err.status
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = operations.reset_password(token, form.password.data)
        except OperationError as err:
            db.session.rollback()
            show_error(form, err)
            return render_template("accounts/reset_password.html", form=form), err.status
        response = twofactor.complete_first_factor(user, False, _dashboard_url())
        if current_user.is_authenticated:
            flash(_("Your password is changed and you are logged in."), "success")
        else:  # the account has an authenticator: its code comes first
            flash(_("Your password is changed. Enter a code from your authenticator app to "
                    "log in."), "success")
        return response
    return render_template("accounts/reset_password.html", form=form), _form_status(form)


# -- profile, sessions, tokens --------------------------------------------------------------

def _render_profile(profile_form: ProfileForm | None = None,
                    password_form: ChangePasswordForm | None = None,
                    token_form: TokenForm | None = None, new_token: ApiToken | None = None,
                    new_secret: str | None = None, status: int = 200):
    """The profile page; the forms not being submitted start fresh."""
    user: User = current_user._get_current_object()
    if profile_form is None:
        profile_form = ProfileForm(formdata=None, obj=user)
    profile_form.fill_choices()
    response = make_response(render_template(
        "accounts/profile.html", user=user, profile_form=profile_form,
        password_form=password_form or ChangePasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        tokens=queries.my_tokens(policy.current_actor()),
        sessions=sessions.sessions_of(user), this_session=user.current_session,
        new_token=new_token, new_secret=new_secret,
    ), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Name, language and time zone; the page also holds the password and token forms."""
    user: User = current_user._get_current_object()
    if request.method == "GET":
        return _render_profile()
    form = ProfileForm()
    form.fill_choices()
    if form.validate_on_submit():
        try:
            operations.update_profile(user, form.display_name.data, form.locale.data,
                                      form.timezone.data)
        except OperationError as err:
            db.session.rollback()
            show_error(form, err)
            return _render_profile(profile_form=form, status=err.status)
        flash(_("Your profile is saved."), "success")
        return redirect(url_for("accounts.profile"))
    return _render_profile(profile_form=form, status=422)


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    """New password: this session carries on, every other session of the account ends."""
    user: User = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            operations.change_password(user, form.current_password.data,
                                       form.new_password.data)
        except OperationError as err:
            db.session.rollback()
            show_error(form, err)
            return _render_profile(password_form=form, status=err.status)
        flash(_("Your password is changed. Your other sessions are logged out."), "success")
        return redirect(url_for("accounts.profile"))
    return _render_profile(password_form=form, status=422)


@bp.route("/profile/sessions/end", methods=["POST"])
@login_required
def logout_everywhere():
    """End every log-in of the account: every device, this one included, must log in again."""
    operations.end_all_sessions(current_user._get_current_object())
    end_session()
    flash(_("You are logged out on every device."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/profile/sessions/end-others", methods=["POST"])
@login_required
def logout_elsewhere():
    """End every log-in of the account but this one."""
    user: User = current_user._get_current_object()
    ended = sessions.end_sessions(user, keep=user.current_session)
    flash(ngettext("%(num)d other session is logged out.",
                   "%(num)d other sessions are logged out.", ended), "info")
    return redirect(url_for("accounts.profile") + "#sessions-heading")


@bp.route("/profile/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def logout_device(session_id: int):
    """End one log-in of the account (a lost phone, a shared computer); this one logs out."""
    user: User = current_user._get_current_object()
    this_one = user.current_session is not None and user.current_session.id == session_id
    if not sessions.end_session(user, session_id):
        abort(404)  # another account's log-in, or one that ended already
    if this_one:
        end_session()
        flash(_("You are logged out."), "info")
        return redirect(url_for("accounts.login"))
    flash(_("That device is logged out."), "info")
    return redirect(url_for("accounts.profile") + "#sessions-heading")


@bp.route("/profile/tokens", methods=["POST"])
@login_required
def create_token():
    """A new API token; its secret is on this one response and nowhere else, ever."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render_profile(token_form=form, status=422)
    try:
        token, secret = operations.create_token(current_user._get_current_object(),
                                                form.name.data)
    except OperationError as err:
        db.session.rollback()
        show_error(form, err)
        return _render_profile(token_form=form, status=err.status)
    return _render_profile(new_token=token, new_secret=secret)


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    actor = policy.current_actor()
    token = policy.get_or_404(actor, ApiToken, token_id, "revoke")
    operations.revoke_token(actor, token)
    flash(_("The token “%(name)s” is revoked.", name=token.name), "success")
    return redirect(url_for("accounts.profile"))
