"""The log-in pages beyond the password: sign-in through an identity provider, the second
step of a log-in, and setting up two-factor authentication. Parse, call, render; the forms'
writes are committed by coprod.web.commits_once once the answer is made (sso_start writes
nothing: the sign-in's state, nonce and PKCE verifier wait in the browser's session)."""

from __future__ import annotations

import math
import time

from flask import (
    Blueprint,
    Flask,
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
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from coprod import policy
from coprod.accounts import oidc, twofactor
from coprod.accounts.auth import start_session
from coprod.accounts.forms import LoginForm
from coprod.accounts.views import safe_next
from coprod.common import OperationError
from coprod.extensions import db, limiter
from coprod.forms import CoprodForm, show_refusal

bp = Blueprint("signin", __name__)


class CodeForm(CoprodForm):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[DataRequired(), Length(max=64)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "spellcheck": "false"})


class SecondStepForm(CoprodForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=64)],
                       render_kw={"autocomplete": "one-time-code", "spellcheck": "false",
                                  "autocapitalize": "off"})


def register(app: Flask) -> None:
    """Providers from the settings, the pages, the enrolment gate and the login buttons."""
    oidc.init_app(app)
    app.register_blueprint(bp)
    app.before_request(twofactor.gate)
    app.after_request(_allow_providers_in_form_action)

    @app.context_processor
    def sso_buttons():
        return {"sso_providers": oidc.providers}


def _allow_providers_in_form_action(response):
    """The page's CSP (coprod/web.py) with the providers' origins in form-action, so that the
    browser follows a sign-in button's redirect to its provider."""
    from coprod.web import CONTENT_SECURITY_POLICY

    origins = oidc.form_action_origins()
    if origins:
        policy_text = response.headers.get("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["Content-Security-Policy"] = policy_text.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(origins))
    return response


def _remembered() -> bool:
    """Whether this log-in was "Keep me logged in" (its row in user_sessions says so)."""
    row = getattr(current_user, "current_session", None)
    return bool(row is not None and row.remember)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# -- sign-in through an identity provider -------------------------------------------------------

def _callback_url(provider: oidc.Provider) -> str:
    """Where the provider sends the browser back: on BASE_URL, as registered with it."""
    path = url_for("signin.sso_callback", name=provider.name)
    return current_app.config["BASE_URL"] + path


def _login_page_with(message: str, status: int, next_url: str | None = None):
    form = LoginForm(formdata=None)
    form.form_errors.append(message)
    return render_template("accounts/login.html", form=form, next_url=next_url), status


@bp.route("/login/sso/<name>", methods=["POST"])
def sso_start(name: str):
    """The button "Sign in with …": off to the provider (POST, so no link starts a sign-in)."""
    provider = oidc.provider_named(name)
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("spaces.dashboard"))
    try:
        return oidc.start(provider, _callback_url(provider), next_url)
    except oidc.SignInFailed as err:
        return _login_page_with(err.message, err.status, next_url)


@bp.route("/login/sso/<name>/callback")
def sso_callback(name: str):
    """The provider sends the browser back here. A GET that logs in, as OpenID Connect has
    it: the state Authlib checks ties it to the sign-in this browser started."""
    provider = oidc.provider_named(name)
    try:
        claims, next_url = oidc.finish(provider)
    except oidc.SignInFailed as err:
        return _login_page_with(err.message, err.status)
    try:
        user = oidc.sign_in(provider, claims)
    except OperationError as err:
        db.session.rollback()
        return _login_page_with(err.message, err.status, next_url)
    response = twofactor.complete_first_factor(
        user, remember=False, next_url=safe_next(next_url) or url_for("spaces.dashboard"),
        strong=provider.counts_as_second_factor(claims))
    # A GET (the provider's redirect back, as OpenID Connect has it): commits_once commits
    # page writes only, so this view commits itself, last, once its answer is made.
    db.session.commit()
    return response


# -- the second step of a log-in ----------------------------------------------------------------

def _limit(setting: str):
    return lambda: current_app.config[setting]


def _pending_account() -> str:
    data = session.get(twofactor.PENDING_KEY)
    return str(data.get("user")) if isinstance(data, dict) else ""


def _second_step_account_key() -> str:
    return f"second-step-account:{_pending_account()}"


def _second_step_account_and_address_key() -> str:
    from flask_limiter.util import get_remote_address

    return f"second-step-account-address:{_pending_account()}|{get_remote_address()}"


def _code_failed(response) -> bool:
    return bool(g.get("second_step_failed"))


def _seconds_until_retry() -> int:
    limit = limiter.current_limit
    return 60 if limit is None else max(1, math.ceil(limit.reset_at - time.time()))


@bp.errorhandler(429)
def too_many_codes(exc):
    """The second step answers its limits on its own page, as the password step does."""
    seconds = _seconds_until_retry()
    form = SecondStepForm(formdata=None)
    form.form_errors.append(ngettext("Too many attempts. Wait %(num)d minute and try again.",
                                     "Too many attempts. Wait %(num)d minutes and try again.",
                                     max(1, round(seconds / 60))))
    response = make_response(render_template("accounts/second_step.html", form=form), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/login/code", methods=["GET", "POST"])
# Wrong codes are throttled as wrong passwords are (accounts/throttle.py), per client address
# and per (account, address); only someone who knows the password gets here, so wrong codes
# on one account from everywhere refuse too (RATELIMIT_LOGIN_PER_ACCOUNT).
@limiter.limit(_limit("RATELIMIT_LOGIN_PER_ADDRESS"), methods=["POST"], deduct_when=_code_failed)
@limiter.limit(_limit("RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS"),
               key_func=_second_step_account_and_address_key, methods=["POST"],
               deduct_when=_code_failed)
@limiter.limit(_limit("RATELIMIT_LOGIN_PER_ACCOUNT"), key_func=_second_step_account_key,
               methods=["POST"], deduct_when=_code_failed)
def second_step():
    """A code from the authenticator app (or a recovery code) after the first factor."""
    found = twofactor.pending()
    if found is None:
        session.pop(twofactor.PENDING_KEY, None)
        flash(_("Log in first: the code is asked for after your password."), "info")
        return redirect(url_for("accounts.login"))
    user, data = found
    form = SecondStepForm()
    if form.validate_on_submit():
        used = twofactor.verify(user, form.code.data)
        if used is not None:
            response = twofactor.complete_second_step(user, data)
            if used == "recovery":
                left = twofactor.remaining_recovery_codes(user)
                flash(ngettext("You used a recovery code. %(num)d is left: make new ones on "
                               "the two-factor page if you have lost your phone.",
                               "You used a recovery code. %(num)d are left: make new ones on "
                               "the two-factor page if you have lost your phone.", left),
                      "info")
            return response
        db.session.rollback()
        g.second_step_failed = True
        form.code.errors = [*form.code.errors, _("That code is not right. Try the newest code "
                                                  "of your authenticator app.")]
    status = 422 if request.method == "POST" else 200
    return _no_store(make_response(render_template("accounts/second_step.html", form=form),
                                   status))


# -- setting it up ------------------------------------------------------------------------------

def _setup_page(form: CodeForm | None = None, status: int = 200, codes: list[str] | None = None):
    user = current_user._get_current_object()
    context = {"form": form or CodeForm(formdata=None), "codes": codes,
               "enrolled": twofactor.is_enrolled(user),
               "required": twofactor.required_for(policy.current_actor())}
    if context["enrolled"]:
        context["remaining"] = twofactor.remaining_recovery_codes(user)
    else:
        secret = session.get(twofactor.SETUP_KEY)
        if not secret:
            secret = session[twofactor.SETUP_KEY] = twofactor.new_secret()
        context["qr_code"] = twofactor.qr_code(twofactor.provisioning_uri(user, secret))
        context["manual_key"] = twofactor.grouped(secret)
    return _no_store(make_response(render_template("accounts/two_factor.html", **context),
                                   status))


@bp.route("/profile/two-factor")
@login_required
def setup():
    """Scan the QR code (or type the key), then confirm with a code; or, once on, manage it.
    The secret waits in this session until confirmed: nothing is stored before that."""
    return _setup_page()


@bp.route("/profile/two-factor", methods=["POST"])
@login_required
def confirm_setup():
    user = current_user._get_current_object()
    form = CodeForm()
    if not form.validate_on_submit():
        return _setup_page(form, 422)
    try:
        codes = twofactor.enrol(user, session.get(twofactor.SETUP_KEY), form.code.data)
    except OperationError as err:
        db.session.rollback()
        show_refusal(form, err)
        return _setup_page(form, err.status)
    start_session(user, remember=_remembered(), second_factor=twofactor.FACTOR_TOTP)
    flash(_("Two-factor authentication is on. Your other sessions are logged out."), "success")
    return _setup_page(codes=codes)


@bp.route("/profile/two-factor/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes():
    user = current_user._get_current_object()
    form = CodeForm()
    if not form.validate_on_submit():
        return _setup_page(form, 422)
    try:
        codes = twofactor.new_recovery_codes(user, form.code.data)
    except OperationError as err:
        db.session.rollback()
        show_refusal(form, err)
        return _setup_page(form, err.status)
    flash(_("Here are your new recovery codes. The old ones no longer work."), "success")
    return _setup_page(codes=codes)


@bp.route("/profile/two-factor/off", methods=["POST"])
@login_required
def turn_off():
    user = current_user._get_current_object()
    form = CodeForm()
    if not form.validate_on_submit():
        return _setup_page(form, 422)
    try:
        twofactor.turn_off(policy.current_actor(), user, form.code.data)
    except OperationError as err:
        db.session.rollback()
        show_refusal(form, err)
        return _setup_page(form, err.status)
    flash(_("Two-factor authentication is off."), "info")
    return redirect(url_for("accounts.profile"))
