"""Translations: a Danish or Finnish user reads their own language in pages and emails, and
the catalogs (English, Danish, Finnish) stay complete.

The catalog checks make a forgotten step fail CI: a string added to the code but not
extracted (`make translations`), a msgid left untranslated, or a .po edited but not compiled.
"""

from __future__ import annotations

import gettext
import io
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale
from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.config import TRANSLATIONS_DIR, catalog_languages
from coprod.spaces.models import Purpose, RemitKind
from tests.conftest import text_of
from tests.factories import CollaborationFactory, UserFactory, member

ROOT = Path(__file__).resolve().parent.parent
POT = TRANSLATIONS_DIR / "messages.pot"
CATALOGS = sorted(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"))


def _locale_of(po: Path) -> str:
    return po.parent.parent.name


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _html_lang(page) -> str:
    return re.search(r'<html lang="([^"]*)"', page.text).group(1)


def _logged_in(db, login, **user):
    """A member (coordinator) of a collaboration, logged in through the log-in form."""
    collab = CollaborationFactory(purpose=Purpose.NEW_SERVICE,
                                  remit_kind=RemitKind.SOCIAL_GROUP)
    seat = member(collab, Role.COORDINATOR, **user)
    db.session.commit()
    assert login(seat.user).status_code == 302
    return seat


# -- pages --------------------------------------------------------------------------------

def test_templates_follow_a_language_switched_within_a_request(app):
    """Templates read the request's catalog kept for the request (coprod.i18n.translations):
    an email rendered in its recipient's language inside a page's request (force_locale),
    then the page again in its own, each in the right one; and a changed language after
    refresh()."""
    from flask import render_template_string
    from flask_babel import refresh

    def shown() -> str:
        return render_template_string('{{ _("Search") }} {{ ngettext("%(num)d result", '
                                      '"%(num)d results", 2) }}')

    # each request its own app context (and g), as served
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        assert shown() == "Search 2 results"
        with force_locale("da"):
            assert shown().startswith("Søg ")
            with force_locale("fi"):
                assert shown().startswith("Haku ")
            assert shown().startswith("Søg ")
        assert shown() == "Search 2 results"
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "fi"}):
        assert shown().startswith("Haku ")
        with force_locale("da"):
            refresh()  # what force_timezone() does inside an email's force_locale
            assert shown().startswith("Søg ")
        assert shown().startswith("Haku ")


def test_danish_user_sees_a_danish_dashboard(db, client, login):
    _logged_in(db, login, locale="da")
    page = client.get("/")
    assert page.status_code == 200
    assert _html_lang(page) == "da"
    for danish in ("Mine samarbejder", "Nyt samarbejde", "Formål", "Min rolle", "Log ud"):
        assert danish in page.text
    # Enum labels (lazy_gettext in the models) follow the reader's language too.
    for label in ("Koordinator", "Et nyt tilbud", "En social gruppe"):
        assert label in page.text
    assert "My collaborations" not in page.text
    assert "Coordinator" not in page.text


def test_english_user_sees_english(db, client, login):
    _logged_in(db, login, locale="en")
    page = client.get("/", headers={"Accept-Language": "da"})
    assert _html_lang(page) == "en"
    for english in ("My collaborations", "New collaboration", "Coordinator", "A new service"):
        assert english in page.text
    assert "Mine samarbejder" not in page.text


def test_danish_profile_offers_only_translated_languages(db, client, login):
    _logged_in(db, login, locale="da")
    page = client.get("/profile")
    assert _html_lang(page) == "da"
    for danish in ("Din profil", "Navn, sprog og tidszone", "Gem profilen",
                   "Skift adgangskode", "Log ud overalt"):
        assert danish in page.text
    select = re.search(r'<select[^>]*name="locale".*?</select>', page.text, re.S).group(0)
    offered = re.findall(r'value="([^"]+)">([^<]+)</option>', select)
    assert offered == [("en", "English"), ("da", "Dansk"), ("fi", "Suomi")]


def test_danish_role_labels_in_a_form_select(db, client, login):
    seat = _logged_in(db, login, locale="da")
    page = client.get(f"/c/{seat.collaboration_id}/invitations")
    assert page.status_code == 200
    for label in ("Koordinator", "Medarbejder hos partner", "Borger", "Værge", "Observatør"):
        assert f">{label}</option>" in page.text
    assert "Samarbejdsaftale" in page.text  # the space's navigation


def test_anonymous_visitor_gets_the_login_page_in_the_browser_language(db, client):
    page = client.get("/login", headers={"Accept-Language": "da-DK, da;q=0.9, en;q=0.5"})
    assert _html_lang(page) == "da"
    for danish in ("Log ind", "Adgangskode", "Har du glemt din adgangskode?"):
        assert danish in page.text

    page = client.get("/login", headers={"Accept-Language": "fr, en;q=0.5"})
    assert _html_lang(page) == "en"
    assert "Forgot your password?" in page.text


def test_a_language_without_a_catalog_is_never_claimed(db, client, login):
    """A browser preferring Swedish falls back to the next offered language; a locale saved
    when Swedish was still offered gets English pages labelled English, not Swedish."""
    page = client.get("/login", headers={"Accept-Language": "sv, da;q=0.5"})
    assert _html_lang(page) == "da"
    _logged_in(db, login, locale="sv")
    page = client.get("/", headers={"Accept-Language": "sv"})
    assert _html_lang(page) == "en"
    assert "My collaborations" in page.text


def test_choosing_a_language_without_a_catalog_is_refused(db, client, login):
    _logged_in(db, login, locale="en", timezone="UTC")
    response = client.post("/profile", data={"display_name": "Astrid", "locale": "sv",
                                             "timezone": "Europe/Stockholm"})
    assert response.status_code == 422
    assert 'id="locale-error"' in response.text


def test_finnish_user_sees_a_finnish_dashboard(db, client, login):
    _logged_in(db, login, locale="fi")
    page = client.get("/")
    assert _html_lang(page) == "fi"
    for finnish in ("Yhteistyöni", "Uusi yhteistyö", "Tarkoitus", "Roolini", "Kirjaudu ulos",
                    "Koordinaattori", "Uusi palvelu", "Väestöryhmä"):
        assert finnish in page.text
    assert "My collaborations" not in page.text


def test_a_finnish_browser_gets_finnish_and_a_user_can_choose_finnish(db, client, login):
    page = client.get("/login", headers={"Accept-Language": "fi-FI, fi;q=0.9, en;q=0.5"})
    assert _html_lang(page) == "fi"
    for finnish in ("Kirjaudu sisään", "Salasana", "Unohditko salasanasi?"):
        assert finnish in page.text

    _logged_in(db, login, locale="en", timezone="UTC")
    response = client.post("/profile", data={"display_name": "Aino", "locale": "fi",
                                             "timezone": "Europe/Helsinki"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert _html_lang(response) == "fi"
    assert "Profiilisi on tallennettu." in response.text


def test_the_default_routine_questions_follow_the_readers_language(db, client, login):
    """They are stored as "the defaults", not as text: a Danish coordinator sees them in
    Danish, a Finnish one in Finnish, and saving the form unchanged keeps following them."""
    from coprod.routines.emails import default_questions
    from coprod.routines.models import Routine

    seat = _logged_in(db, login, locale="fi")
    url = f"/c/{seat.collaboration_id}/routines/new"
    page = client.get(url)
    assert 'value="Mikä toimii meillä paikallisesti yhteistyössä?"' in page.text
    assert 'value="Mitä on parannettava?"' in page.text
    assert "What works for the citizens?" not in page.text
    with force_locale("fi"):
        finnish = default_questions()
    form = {"name": "Kahden viikon havainnot", "cadence": "fortnightly", "weekday": "TU",
            "time": "09:00", "rule": "", "timezone": "Europe/Helsinki",
            **{f"questions-{i}": q for i, q in enumerate([*finnish, "", ""])}}
    response = client.post(url, data=form)
    assert response.status_code == 302
    routine = db.session.scalar(select(Routine).where(
        Routine.collaboration_id == seat.collaboration_id))
    assert routine.questions == []  # the defaults, in whichever language each reader reads

    with force_locale("da"):
        assert default_questions()[2] == "Hvad skal forbedres?"


def test_the_prompt_email_asks_the_default_questions_in_the_recipients_language(db, outbox):
    from coprod import policy
    from coprod.routines import emails
    from coprod.routines import operations as routines
    from coprod.routines.models import Prompt

    collab = CollaborationFactory(timezone="Europe/Helsinki")
    boss = member(collab, Role.COORDINATOR, locale="en")
    aino = member(collab, Role.OBSERVER, locale="fi", email="aino@example.org")
    routine = routines.create_routine(policy.actor_for(boss.user), collab, name="Kysely",
                                      cadence="weekly", weekday="TU", time="09:00")
    start = datetime(2026, 12, 1, 7, tzinfo=UTC)
    prompt = Prompt(routine_id=routine.id, user_id=aino.user_id, period_start=start,
                    period_end=start + timedelta(days=7))
    db.session.add(prompt)
    db.session.flush()
    emails.queue_prompt_email(prompt)
    db.session.commit()
    body = text_of(outbox.last_to("aino@example.org"))
    for question in ("Mikä toimii meillä paikallisesti yhteistyössä?",
                     "Mikä toimii kuntalaisille?", "Mitä on parannettava?"):
        assert question in body
    assert "What works" not in body


def test_a_bad_rule_is_refused_in_the_readers_language(db, client, login):
    seat = _logged_in(db, login, locale="da")
    response = client.post(f"/c/{seat.collaboration_id}/routines/new", data={
        "name": "Månedlig", "cadence": "custom", "weekday": "TU", "time": "",
        "rule": "FREQ=SOMETIMES;BYHOUR=9", "timezone": "Europe/Copenhagen",
        "questions-0": "Hvad virker?"})
    error = re.search(r'<p class="error" id="rule-error">([^<]*)</p>', response.text).group(1)
    assert "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9" in error
    assert "recurrence rule" not in error  # not the English message


def test_schedule_errors_are_translated_when_read():
    """A ScheduleError made outside any request reads in the language of whoever reads it."""
    from coprod.routines import schedule

    with pytest.raises(schedule.ScheduleError) as raised:
        schedule.preset_rule("weekly", "XX", time(9))
    assert str(raised.value) == "Unknown weekday: XX"


# -- emails -------------------------------------------------------------------------------

def test_invitation_to_a_new_person_is_in_the_default_language(db, client, login, outbox):
    """The invitee has no account, so no known language: the email is in the default one,
    whatever the language of the coordinator who sent it."""
    seat = _logged_in(db, login, locale="da")
    response = client.post(f"/c/{seat.collaboration_id}/invitations",
                           data={"email": "ny@example.org", "role": "observer"},
                           follow_redirects=True)
    assert "Vi har sendt en invitation til ny@example.org." in response.text
    mail = outbox.last_to("ny@example.org")
    assert mail["Subject"] == f"You are invited to {seat.collaboration.title} on Coprod"
    body = text_of(mail)
    assert "on Coprod as Observer." in body
    assert "Accept the invitation:" in body
    assert "Hej" not in body


def test_password_reset_email_to_a_danish_user_is_in_danish(db, client, outbox):
    UserFactory(email="mette@example.org", display_name="Mette", locale="da")
    db.session.commit()
    page = client.post("/password/forgot", data={"email": "mette@example.org"},
                       follow_redirects=True)
    assert "If an account exists for the address you entered" in page.text  # an English page
    mail = outbox.last_to("mette@example.org")
    assert mail["Subject"] == "Nulstil din adgangskode til Coprod"
    body = text_of(mail)
    assert "Hej Mette," in body
    assert "Nogen har bedt om at nulstille adgangskoden til din Coprod-konto." in body
    assert "Linket virker én gang og i 60 minutter." in body
    html = mail.get_body(("html",)).get_content()
    assert "Vælg en ny adgangskode" in html


# -- catalogs -----------------------------------------------------------------------------

def test_languages_are_english_plus_the_compiled_catalogs(app, tmp_path):
    assert app.config["LANGUAGES"] == catalog_languages()
    assert app.config["LANGUAGES"][0] == "en"
    assert "da" in app.config["LANGUAGES"]
    assert "fi" in app.config["LANGUAGES"]
    assert "sv" not in app.config["LANGUAGES"]
    (tmp_path / "sv" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "sv" / "LC_MESSAGES" / "messages.mo").write_bytes(b"")
    (tmp_path / "nb" / "LC_MESSAGES").mkdir(parents=True)  # begun, not compiled yet
    (tmp_path / "nb" / "LC_MESSAGES" / "messages.po").write_text("")
    assert catalog_languages(tmp_path) == ["en", "sv"]


def _finished(po: Path):
    """The catalog, or a skip while its translator still has it marked fuzzy as a whole
    (`make translations-init` does): such a catalog must not be compiled, so not offered."""
    catalog = _read(po, _locale_of(po))
    if catalog.fuzzy:
        assert not po.with_suffix(".mo").exists(), \
            f"{po} is unfinished (fuzzy) but compiled: its language would be offered"
        pytest.skip(f"{po} is unfinished (marked fuzzy)")
    return catalog


@pytest.mark.parametrize("code", ["da", "fi"])
def test_the_danish_and_finnish_catalogs_are_finished_and_offered(app, code):
    """The Nordic languages Coprod serves: neither may go missing or fall back to fuzzy (the
    completeness checks below skip a fuzzy catalog)."""
    po = TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po"
    assert po in CATALOGS
    catalog = _read(po, code)
    assert not catalog.fuzzy
    assert catalog.num_plurals == 2
    assert code in app.config["LANGUAGES"]


@pytest.mark.parametrize("po", CATALOGS, ids=_locale_of)
def test_every_msgid_is_translated(po):
    template = _read(POT)
    catalog = _finished(po)
    untranslated = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = (found.string if isinstance(found.string, tuple) else (found.string,)) \
            if found is not None else ()
        if found is None or found.fuzzy or not strings or not all(s.strip() for s in strings):
            untranslated.append(message.id)
    assert untranslated == [], f"untranslated or fuzzy in {po}: {untranslated}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == [], f"placeholders or plural forms differ in {po}: {problems}"


@pytest.mark.parametrize("po", CATALOGS, ids=_locale_of)
def test_compiled_catalog_matches_the_po(po):
    """The committed .mo holds exactly what compiling the .po gives (`make translations`)."""
    catalog = _finished(po)
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run make translations"
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    fresh.seek(0)
    expected = gettext.GNUTranslations(fresh)
    with mo.open("rb") as f:
        committed = gettext.GNUTranslations(f)
    # The header ("" key) names the Babel version that compiled it: compare the rest.
    assert {k: v for k, v in committed._catalog.items() if k != ""} == \
        {k: v for k, v in expected._catalog.items() if k != ""}, \
        f"{mo} is older than {po}: run make translations"
    assert committed.info()["plural-forms"] == catalog.plural_forms


def test_messages_pot_has_every_string_of_the_code(tmp_path):
    """Extract as `make translations` does (same babel.cfg) and compare the msgids."""
    extracted_pot = tmp_path / "messages.pot"
    status = CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
        "-o", str(extracted_pot), str(ROOT)])
    assert not status
    extracted = {m.id if isinstance(m.id, str) else tuple(m.id)
                 for m in _read(extracted_pot) if m.id}
    # lazy_gettext keywords come from babel.cfg: an older Babel would silently skip them.
    assert "Partner staff" in extracted
    committed = {m.id if isinstance(m.id, str) else tuple(m.id) for m in _read(POT) if m.id}
    missing = sorted(extracted - committed, key=str)
    assert missing == [], f"not in messages.pot, run make translations: {missing}"


def test_finnish_password_reset_email_counts_its_minutes(app, db, client, outbox):
    """In Finnish, and "1 minute" in the singular (ngettext), "60 minutes" in the plural."""
    UserFactory(email="aino@example.org", display_name="Aino", locale="fi",
                timezone="Europe/Helsinki")
    db.session.commit()
    client.post("/password/forgot", data={"email": "aino@example.org"})
    mail = outbox.last_to("aino@example.org")
    assert mail["Subject"] == "Coprod-salasanasi palauttaminen"
    body = text_of(mail)
    assert "Hei Aino," in body
    assert "Linkki toimii kerran ja 60 minuutin ajan." in body

    UserFactory(email="one@example.org", display_name="One", locale="en")
    db.session.commit()
    minutes = app.config["PASSWORD_RESET_MAX_AGE_MINUTES"]
    app.config["PASSWORD_RESET_MAX_AGE_MINUTES"] = 1
    try:
        client.post("/password/forgot", data={"email": "one@example.org"})
    finally:
        app.config["PASSWORD_RESET_MAX_AGE_MINUTES"] = minutes
    assert "The link works once and for 1 minute." in text_of(outbox.last_to("one@example.org"))
