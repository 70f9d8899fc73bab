"""Every form of the site, sent as a user sends it while the database drops right after the
commit: the change is stored, so the answer is the form's own (a redirect or its page), never
the 503 "try again" page, which would make the user send it twice. And a write whose commit
fails shows no success message, neither on the error page nor on the next one.

Each form is read from the page that shows it (tests/webforms.py), filled as a user would,
and sent once; CASES lists the page of every write endpoint, and a test checks that the list
is the whole url_map, so a new form must be listed here. A form that stores nothing (the
button that starts a sign-in at an identity provider) says so, and is checked to store
nothing.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from coprod.accounts import bulk, sessions, twofactor
from coprod.accounts.operations import create_token, invitation_token, password_reset_token
from coprod.admin import operations as admin
from coprod.citizens.models import Citizen
from coprod.digests.sending import unsubscribe_token as digest_unsubscribe_token
from coprod.extensions import db as _db
from coprod.notifications.links import unsubscribe_token as notification_unsubscribe_token
from coprod.reflections import operations as reflections
from coprod.routines import operations as routines
from coprod.routines.emails import unsubscribe_token as routine_unsubscribe_token
from coprod.spaces import operations as spaces
from coprod.spaces.models import CollaborationStatus
from tests.accounts.sso import oidc_provider, provider_server, sso  # noqa: F401
from tests.factories import PASSWORD, InvitationFactory, PartnerFactory, UserFactory
from tests.webforms import errors_of, forms_of
from tests.worlds import REFLECTION, World, one_of_everything

SOON = (date.today() + timedelta(days=30)).isoformat()


@dataclass
class Case:
    """A write endpoint: the page whose form posts to it, who sends it, what they change."""

    endpoint: str
    page: str
    # A World member, "citizen_user", "invitee", "anonymous", or "pending": the coordinator
    # past the password of a log-in that waits for its code (setup=_enrolled).
    who: str = "coordinator"
    data: dict = field(default_factory=dict)  # (bytes, filename): a file to upload
    setup: object = None  # setup(world) -> more values for `page`, before it is read
    action: str = ""  # picks among the page's forms to this endpoint: a part of its URL
    fill: object = None  # fill(world, page_html) -> more data, from what the page shows
    fixtures: tuple = ()  # what the page needs besides the world (an identity provider)
    stores: bool = True  # False: the form changes nothing in the database

    def __str__(self) -> str:
        return f"{self.endpoint}{'+' + self.action if self.action else ''}"


C = "/c/{collaboration_id}"


def _archived(w: World) -> dict:
    spaces.update_collaboration(_actor(w), w.collaboration, status=CollaborationStatus.ARCHIVED)
    return {}


def _actor(w: World, who: str = "coordinator"):
    from coprod import policy

    return policy.actor_for(_user(w, who))


def _user(w: World, who: str):
    if who == "pending":
        return w.coordinator.user
    if who in ("coordinator", "staff", "observer"):
        return getattr(w, who).user
    return w.objects[who]


def _fresh_improvement(w: World) -> dict:
    other = reflections.post_reflection(_actor(w, "staff"), w.collaboration,
                                        body="Meetings run late", **REFLECTION)
    return {"reflection_id": other.id}


def _notified(w: World) -> dict:
    reflections.reply(_actor(w), w.reflection, "Noted")  # its author, staff, is notified
    return {}


def _on_leave(w: World) -> dict:
    routines.take_leave(_actor(w), w.collaboration, date.today() + timedelta(days=9))
    return {}


def _unsubscribed(w: World) -> dict:
    routines.unsubscribe(w.routine.id, w.coordinator.user_id)
    return {}


def _paused(w: World) -> dict:
    routines.pause_routine(_actor(w), w.routine)
    return {}


def _second_activity(w: World) -> dict:
    from coprod.servicemap import operations as service_map

    other = service_map.create_activity(_actor(w), w.collaboration, name="Volunteering",
                                        performer_ids=[w.partner.id])
    return {"second_activity_id": other.id}


def _unused_category(w: World) -> dict:
    from coprod.servicemap import operations as service_map

    unused = service_map.create_category(_actor(w), w.collaboration, name="Unused")
    return {"unused_category_id": unused.id}


def _removable_partner(w: World) -> dict:
    return {"partner_id": PartnerFactory(collaboration=w.collaboration).id}


def _invited(w: World) -> dict:
    invitee = UserFactory(email="invitee@example.org")
    w.objects["invitee"] = invitee
    invitation = InvitationFactory(collaboration=w.collaboration, email=invitee.email)
    _db.session.flush()
    return {"token": invitation_token(invitation)}


def _signing_up(w: World) -> dict:
    invitation = InvitationFactory(collaboration=w.collaboration, email="new@example.org")
    _db.session.flush()
    return {"token": invitation_token(invitation)}


def _api_token(w: World) -> dict:
    return {"token_id": create_token(w.coordinator.user, "script")[0].id}


def _other_device(w: World) -> dict:
    """The coordinator is logged in on another device too."""
    return {"other_session_id": sessions.open_session(w.coordinator.user).id}


def _enrolled(w: World) -> dict:
    """The coordinator has an authenticator (its secret and recovery codes in the world)."""
    secret = twofactor.new_secret()
    codes = twofactor.enrol(w.coordinator.user, secret, pyotp.TOTP(secret).now())
    w.objects.update(totp_secret=secret, recovery_codes=codes)
    return {}


def _next_code(w: World, page_html: str) -> dict:
    """The code of the next 30 s step (one step of drift is accepted, and the step of now
    may be spent already)."""
    return {"code": pyotp.TOTP(w.totp_secret).at(time.time() + 30)}


def _recovery_code(w: World, page_html: str) -> dict:
    return {"code": w.recovery_codes[-1]}


def _code_for_the_shown_key(w: World, page_html: str) -> dict:
    key = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page_html).group(1).replace(" ", "")
    return {"code": pyotp.TOTP(key).now()}


def _administered(w: World) -> dict:
    """The coordinator administers the installation; the staff member is logged in."""
    w.coordinator.user.is_admin = True
    row = sessions.open_session(w.staff.user)
    return {"user_id": w.staff.user_id, "staff_session_id": row.id}


def _deactivated(w: World) -> dict:
    values = _administered(w)
    _db.session.flush()
    admin.deactivate(_actor(w), w.staff.user)
    return values


PEOPLE = b"email,name,partner,role\nnew.person@example.org,New Person,,observer\n"


def _uploaded(w: World) -> dict:
    batch = bulk.create_batch(_actor(w), w.collaboration, bulk.read_csv(PEOPLE), "people.csv")
    return {"batch_id": batch.id}


CASES = [
    Case("spaces.new_collaboration", "/collaborations/new",
         data={"title": "Another space", "organization_name": "Skovby",
               "organization_sector": "public"}),
    Case("spaces.settings", f"{C}/settings", data={"title": "Meaningful work 2"}),
    Case("spaces.archive", f"{C}/settings"),
    Case("spaces.reopen", f"{C}/settings", setup=_archived),
    Case("spaces.edit_charter", f"{C}/charter/edit"),
    Case("spaces.add_partner", f"{C}/partners", data={"name": "Café Solsikke",
                                                      "organization_id": "",
                                                      "sector": "private"}),
    Case("spaces.edit_partner", f"{C}/partners/{{partner_id}}/edit",
         data={"resources-0-description": "A van"}),
    Case("spaces.remove_partner", f"{C}/partners", setup=_removable_partner,
         action="{partner_id}/remove"),
    Case("spaces.change_member", f"{C}/members", action="{membership_id}",
         data={"member-{membership_id}-role": "partner_staff",
               "member-{membership_id}-partner_id": "{partner_id}"}),
    Case("spaces.remove_member", f"{C}/members", action="{membership_id}/remove"),
    Case("spaces.leave", f"{C}/members", who="staff"),
    Case("spaces.invite", f"{C}/invitations", data={"email": "new@example.org"}),
    Case("spaces.revoke_invitation", f"{C}/invitations"),
    Case("reflections.new", f"{C}/reflections/new"),
    Case("reflections.edit", f"{C}/reflections/{{reflection_id}}/edit", who="staff"),
    Case("reflections.withdraw", f"{C}/reflections/{{reflection_id}}", who="staff"),
    Case("reflections.reply", f"{C}/reflections/{{reflection_id}}", action="replies",
         data={"reply-body": "Agreed"}),
    Case("reflections.reply", f"{C}/reflections/{{reflection_id}}",
         action="replies/{reply_id}", data={"answer-{reply_id}-body": "Agreed"}),
    Case("reflections.edit_reply",
         f"{C}/reflections/{{reflection_id}}/replies/{{reply_id}}/edit", who="staff"),
    Case("reflections.withdraw_reply", f"{C}/reflections/{{reflection_id}}", who="staff"),
    Case("reflections.react", f"{C}/reflections/{{reflection_id}}"),
    Case("reflections.create_action", f"{C}/reflections/{{reflection_id}}",
         setup=_fresh_improvement, data={"title": "Phone first"}),
    Case("reflections.update_action", f"{C}/reflections/{{reflection_id}}",
         data={"status": "in_progress"}),
    Case("messages.new", f"{C}/messages/new",
         data={"participants": "{staff_user_id}", "body": "Shall we?"}),
    Case("messages.reply", f"{C}/messages/{{conversation_id}}", data={"body": "Yes"}),
    Case("messages.add_participants", f"{C}/messages/{{conversation_id}}",
         data={"participants": "{observer_user_id}"}),
    Case("messages.leave", f"{C}/messages/{{conversation_id}}"),
    Case("servicemap.new_activity", f"{C}/map/activities/new", data={"name": "Volunteering"}),
    Case("servicemap.edit_activity", f"{C}/map/activities/{{activity_id}}/edit",
         data={"name": "Job training 2"}),
    Case("servicemap.move_activity", f"{C}/map", setup=_second_activity,
         action="{second_activity_id}/move"),
    Case("servicemap.delete_activity", f"{C}/map"),
    Case("servicemap.new_flow", f"{C}/map/activities/{{activity_id}}/edit",
         data={"categories": "{category_id}", "from_partner_id": "{partner_id}",
               "to_partner_id": "{second_id}"}),
    Case("servicemap.delete_flow", f"{C}/map/activities/{{activity_id}}/edit"),
    Case("servicemap.categories", f"{C}/map/categories", data={"name": "Support needs"}),
    Case("servicemap.edit_category", f"{C}/map/categories/{{category_id}}/edit",
         data={"name": "Contact details 2"}),
    Case("servicemap.delete_category", f"{C}/map/categories", setup=_unused_category,
         action="{unused_category_id}/delete"),
    Case("citizens.new", f"{C}/citizens/new", data={"pseudonym": "Citizen 18", "user_email": "",
                                                    "guardian_emails": ""}),
    Case("citizens.edit", f"{C}/citizens/{{citizen_id}}/edit",
         data={"name": "Peter M", "guardian_emails": ""}),
    Case("citizens.record_consent", f"{C}/citizens/{{citizen_id}}/consents/new",
         data={"partners": "{partner_id}", "categories": "{category_id}",
               "purpose": "Job training"}),
    Case("citizens.withdraw", f"{C}/citizens/{{citizen_id}}"),
    Case("citizens.erase", f"{C}/citizens/{{citizen_id}}/erase",
         data={"confirm": "Citizen 17"}),
    Case("my_information.withdraw", "/my/information/{citizen_id}", who="citizen_user"),
    Case("routine_settings.new", f"{C}/routines/new",
         data={"name": "Monthly", "rule": "", "time": "09:00"}),
    Case("routine_settings.edit", f"{C}/routines/{{routine_id}}/edit",
         data={"name": "Weekly 2"}),
    Case("routine_settings.pause", f"{C}/routines"),
    Case("routine_settings.resume", f"{C}/routines", setup=_paused),
    Case("routine_settings.delete", f"{C}/routines"),
    Case("routine_settings.unsubscribe", f"{C}/routines"),
    Case("routine_settings.resubscribe", f"{C}/routines", setup=_unsubscribed),
    Case("routine_settings.leave", f"{C}/routines/leave", data={"until": SOON}),
    Case("routine_settings.end_leave", f"{C}/routines/leave", setup=_on_leave),
    Case("routines.unsubscribe", "/routines/unsubscribe/{token}", who="anonymous",
         setup=lambda w: {"token": routine_unsubscribe_token(w.routine.id,
                                                             w.coordinator.user_id)}),
    Case("digests.settings", f"{C}/digests"),
    Case("digests.email", "/profile"),  # every email setting is on the profile
    Case("digests.review", f"{C}/digests/{{digest_id}}", data={"note": "Well done"}),
    Case("digests.unsubscribe", "/digests/unsubscribe/{token}", who="anonymous",
         setup=lambda w: {"token": digest_unsubscribe_token(w.collaboration.id,
                                                            w.coordinator.user_id)}),
    Case("notifications.mark_read", "/notifications", who="staff", setup=_notified),
    Case("notifications.mark_all_read", "/notifications", who="staff", setup=_notified),
    Case("notifications.settings", "/profile", data={"notify_email": "off"}),
    Case("notification_links.unsubscribe", "/notifications/unsubscribe/{token}",
         who="anonymous",
         setup=lambda w: {"token": notification_unsubscribe_token(w.coordinator.user_id)}),
    Case("accounts.login", "/login", who="anonymous",
         data={"email": "{coordinator_email}", "password": PASSWORD}),
    Case("accounts.logout", "/profile"),
    Case("accounts.logout_everywhere", "/profile"),
    Case("accounts.accept_invitation", "/invitations/{token}", who="invitee",
         setup=_invited),
    Case("accounts.accept_invitation", "/invitations/{token}", who="anonymous",
         setup=_signing_up,
         data={"display_name": "New Member", "password": "a long new password",
               "password_confirm": "a long new password"}),
    Case("accounts.forgot_password", "/password/forgot", who="anonymous",
         data={"email": "{coordinator_email}"}),
    Case("accounts.reset_password", "/password/reset/{token}", who="anonymous",
         setup=lambda w: {"token": password_reset_token(w.coordinator.user)},
         data={"password": "a long new password", "password_confirm": "a long new password"}),
    Case("accounts.profile", "/profile", data={"display_name": "Mette H"}),
    Case("accounts.change_password", "/profile",
         data={"current_password": PASSWORD, "new_password": "a long new password",
               "new_password_confirm": "a long new password"}),
    Case("accounts.create_token", "/profile", data={"name": "My script"}),
    Case("accounts.revoke_token", "/profile", setup=_api_token),
    Case("accounts.logout_device", "/profile", setup=_other_device,
         action="sessions/{other_session_id}/end"),
    Case("accounts.logout_elsewhere", "/profile", setup=_other_device),
    Case("signin.sso_start", "/login", who="anonymous", fixtures=("sso",), stores=False),
    Case("signin.second_step", "/login/code", who="pending", setup=_enrolled, fill=_next_code),
    Case("signin.second_step", "/login/code", who="pending", setup=_enrolled,
         fill=_recovery_code),
    Case("signin.confirm_setup", "/profile/two-factor", fill=_code_for_the_shown_key),
    Case("signin.new_recovery_codes", "/profile/two-factor", setup=_enrolled,
         fill=_next_code),
    Case("signin.turn_off", "/profile/two-factor", setup=_enrolled, fill=_next_code),
    Case("admin.deactivate", "/admin/accounts/{user_id}", setup=_administered),
    Case("admin.reactivate", "/admin/accounts/{user_id}", setup=_deactivated),
    Case("admin.end_session", "/admin/accounts/{user_id}", setup=_administered,
         action="sessions/{staff_session_id}/end"),
    Case("admin.end_sessions", "/admin/accounts/{user_id}", setup=_administered),
    Case("admin.settings", "/admin/settings", setup=_administered,
         data={"mode": "organizations", "organizations": "{organization_id}"}),
    Case("bulk_invitations.upload", f"{C}/invitations/bulk",
         data={"file": (PEOPLE, "people.csv")}),
    Case("bulk_invitations.send", f"{C}/invitations/bulk/{{batch_id}}", setup=_uploaded),
]


def _values(w: World, extra: dict) -> dict:
    return {**w.ids, "second_id": w.second.id, "staff_user_id": w.staff.user_id,
            "observer_user_id": w.observer.user_id,
            "organization_id": w.partner.organization_id,
            "coordinator_email": w.coordinator.user.email, **extra}


def _sent_value(value, values: dict):
    """A value of Case.data as the test client sends it: text with the world's ids in it, or
    a file (a fresh stream: one request reads it)."""
    if isinstance(value, tuple):
        content, filename = value
        return (io.BytesIO(content), filename)
    return value.format(**values)


def _signed_in(browser, case: Case, w: World) -> None:
    """Log in as the case's user, through the second step if the account has an
    authenticator (with a recovery code: the codes of now stay unspent for the form)."""
    user = _user(w, case.who)
    signed_in = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    if signed_in.headers["Location"].endswith("/login/code") and case.who != "pending":
        second = browser.post("/login/code", data={"code": w.recovery_codes[0]})
        assert second.status_code == 302, second.get_data(as_text=True)


def _form(page_html: str, case: Case, values: dict, url_map, page_url: str):
    """The form of the page that posts to the case's endpoint (and action, if it says)."""
    adapter = url_map.bind("localhost")
    wanted = case.action.format(**values)
    for form in forms_of(page_html):
        form.action = form.action or page_url
        try:
            endpoint, _args = adapter.match(form.path, method="POST")
        except HTTPException:  # a form to elsewhere (a search, a GET form)
            endpoint = None
        if endpoint == case.endpoint and (not case.action or form.path.endswith(wanted)
                                          or wanted in form.path):
            return form
    return None


def page_fixtures(request, case: Case) -> None:
    """Set up what the case's page needs besides its world (an identity provider)."""
    for name in case.fixtures:
        request.getfixturevalue(name)


def open_form(app, db, new_client, case: Case, monkeypatch=None):
    """(browser, form, data, world): the case's world built and committed, its page read as
    its user reads it, the form found on it, what a user would send. With `monkeypatch`, CSRF
    is checked from the page on (the form sends the page's token)."""
    w = one_of_everything()
    extra = case.setup(w) if case.setup else {}
    db.session.commit()
    values = _values(w, extra or {})
    browser = new_client()
    if case.who != "anonymous":
        _signed_in(browser, case, w)
    if monkeypatch is not None:
        monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = browser.get(case.page.format(**values))
    assert page.status_code == 200, (case.page, page.status_code)
    form = _form(page.get_data(as_text=True), case, values, app.url_map,
                 case.page.format(**values))
    assert form is not None, f"no form to {case} on {case.page}"
    data = {k.format(**values): [_sent_value(v, values) for v in (vs if isinstance(vs, list)
                                                                  else [vs])]
            for k, vs in case.data.items()}
    if case.fill:
        data.update(case.fill(w, page.get_data(as_text=True)))
    return browser, form, form.data(**data), w


@pytest.fixture
def drop_after_commit(db):
    """drop_after_commit(): from the first commit after an INSERT, UPDATE or DELETE, every
    statement fails as if the server went away (until the fixture ends)."""
    state = {"armed": False, "wrote": False, "down": False}

    def before(conn, cursor, statement, *args):
        head = statement.lstrip().upper()
        if state["down"] and not head.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            raise OperationalError(statement, {}, Exception("server closed the connection"))
        if state["armed"] and head.startswith(("INSERT", "UPDATE", "DELETE")):
            state["wrote"] = True

    def committed(session):
        if state["wrote"]:
            state["down"] = True

    session = db.session()
    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(session, "after_commit", committed)

    def arm():
        state.update(armed=True, wrote=False, down=False)
        return state

    yield arm
    event.remove(db.engine, "before_cursor_execute", before)
    if event.contains(session, "after_commit", committed):
        event.remove(session, "after_commit", committed)
    state.update(armed=False, down=False)


def test_every_write_endpoint_of_the_pages_is_a_case(app):
    listed = {case.endpoint for case in CASES}
    writes = {rule.endpoint for rule in app.url_map.iter_rules()
              if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")}
    assert writes - listed == set(), "write endpoints without a case"
    assert listed - writes == set(), "cases of endpoints that are gone"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_stored_write_is_not_answered_as_a_failure(app, db, new_client, drop_after_commit,
                                                     case, monkeypatch, request):
    page_fixtures(request, case)
    browser, form, data, _w = open_form(app, db, new_client, case, monkeypatch)
    state = drop_after_commit()
    response = browser.post(form.action, data=data)
    stored, state["down"] = state["down"], False
    body = response.get_data(as_text=True)
    if case.stores:
        assert stored, (f"{case}: nothing stored ({response.status_code}): "
                        f"{errors_of(body)} {data}")
    else:
        assert not state["wrote"], f"{case}: a form that stores nothing wrote"
    assert response.status_code in (200, 302, 303), (response.status_code, body[:600])


def test_a_failed_commit_shows_no_success_message(app, db, new_client, monkeypatch):
    case = next(c for c in CASES if c.endpoint == "reflections.reply")
    browser, form, data, w = open_form(app, db, new_client, case)

    def dropped():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(_db.session, "commit", dropped)
    response = browser.post(form.action, data=data)
    assert response.status_code == 503
    assert "Your reply is posted" not in response.get_data(as_text=True)
    monkeypatch.undo()
    db.session.rollback()
    page = browser.get(case.page.format(**w.ids)).get_data(as_text=True)
    assert "Your reply is posted" not in page and "Agreed" not in page
    assert db.session.get(Citizen, w.citizen.id) is not None  # the database is there again
