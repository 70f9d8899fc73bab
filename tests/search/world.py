"""A collaboration where everyone may read something different, for search and export tests.

Partners: the job centre (A), the café (B), the animal shelter (C). Ann and her colleague Ane
speak for A, Bo for B, Cy for C; Coco coordinates (for no partner); Lea (B) takes part in a
conversation and then leaves; Otto coordinates another collaboration. Every text holds the
common words "borgerne" (Danish) or "yhteistyö" (Finnish) and one code word of its own, so a
test can tell exactly which items a page, an answer or a file let through.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from coprod import policy
from coprod.accounts.models import Role
from coprod.extensions import db
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections import operations
from coprod.spaces import operations as spaces
from tests.factories import CollaborationFactory, OrganizationFactory, PartnerFactory, member

COMMON = dict(perspective="citizens", component="routines", learning_level="inter",
              mode="exploitation")

# code word -> who may read it (besides nobody else); used by every test of this package.
READERS = {
    "zzwhole": {"ann", "ane", "bo", "cy", "coco", "lea"},
    "zzorgonly": {"ann", "ane"},
    "zzcoordonly": {"ann", "coco"},
    "zzpartnersb": {"ann", "ane", "bo", "lea"},
    "zzpartnersa": {"cy", "ann", "ane"},
    "zzsignedorg": {"ann", "ane", "bo", "cy", "coco", "lea"},
    "zzreplywhole": {"ann", "ane", "bo", "cy", "coco", "lea"},
    "zzreplyorgonly": {"ann", "ane"},
    "zzreplysigned": {"ann", "ane", "bo", "cy", "coco", "lea"},
    "zzmsgannbo": {"ann", "bo", "lea"},
    "zzmsganecy": {"ane", "cy"},
    "zzelsewhere": {"otto"},
    # withdrawn: nobody ever finds or exports their text
    "zzwithdrawnreflection": set(),
    "zzwithdrawnreply": set(),
}
# The Finnish one; every other text says "borgerne".
FINNISH = {"zzsignedorg", "zzreplysigned"}
PEOPLE = ("ann", "ane", "bo", "cy", "coco", "lea", "otto")


def _conversation(collab, subject: str, people, author, body: str) -> Message:
    conversation = Conversation(collaboration_id=collab.id, subject=subject,
                                created_by_id=author.user_id)
    conversation.participants = [Participant(user_id=p.user_id) for p in people]
    db.session.add(conversation)
    db.session.flush()
    message = Message(conversation_id=conversation.id, author_id=author.user_id, body=body)
    db.session.add(message)
    db.session.flush()
    return message


def build_world():
    """The space, its people (seats), and every item by its code word; committed."""
    collab = CollaborationFactory(title="Meningsfuldt arbejde")
    a = PartnerFactory(collaboration=collab, organization=OrganizationFactory(name="Jobcenter"))
    b = PartnerFactory(collaboration=collab, organization=OrganizationFactory(name="Café Æblet"))
    c = PartnerFactory(collaboration=collab, organization=OrganizationFactory(name="Dyreinternat"))
    seats = {
        "ann": member(collab, Role.PARTNER_STAFF, a, display_name="Ann Andersen"),
        "ane": member(collab, Role.PARTNER_STAFF, a, display_name="Ane Holm"),
        "bo": member(collab, Role.PARTNER_STAFF, b, display_name="Bo Berg"),
        "cy": member(collab, Role.PARTNER_STAFF, c, display_name="Cy Carlsen"),
        "coco": member(collab, Role.COORDINATOR, display_name="Coco Coordinator"),
        "lea": member(collab, Role.PARTNER_STAFF, b, display_name="Lea Leaver"),
    }
    other = CollaborationFactory(title="Another space")
    seats["otto"] = member(other, Role.COORDINATOR, display_name="Otto Other")
    db.session.commit()
    actors = {name: policy.actor_for(seat.user) for name, seat in seats.items()}
    ann, ane = actors["ann"], actors["ane"]

    def post(actor, space, code, body, **kwargs):
        fields = {**COMMON, "kind": "works", "visibility": "collaboration", **kwargs}
        return operations.post_reflection(actor, space, body=f"{body} {code}", **fields)

    items = {
        "zzwhole": post(ann, collab, "zzwhole", "Borgerne får meningsfuldt arbejde i caféen.",
                      tags=["handover"]),
        "zzorgonly": post(ann, collab, "zzorgonly", "Borgerne venter for længe hos os.",
                        visibility="organization"),
        "zzcoordonly": post(ann, collab, "zzcoordonly", "Borgerne mangler en kontaktperson.",
                          visibility="coordinators"),
        "zzpartnersb": post(ann, collab, "zzpartnersb", "Borgerne kan starte i caféen.",
                          visibility="partners", audience=[b.id], kind="improve"),
        "zzpartnersa": post(actors["cy"], collab, "zzpartnersa", "Borgerne og hundene.",
                            visibility="partners", audience=[a.id]),
        "zzsignedorg": post(ann, collab, "zzsignedorg", "Yhteistyö toimii hyvin.",
                          attribution="organization", component="governance"),
        "zzwithdrawnreflection": post(ann, collab, "zzwithdrawnreflection",
                                      "Borgerne klager."),
        "zzelsewhere": post(actors["otto"], other, "zzelsewhere", "Borgerne andre steder."),
    }
    items["zzreplywhole"] = operations.reply(
        actors["bo"], items["zzwhole"], "Vi ser også borgerne blomstre. zzreplywhole")
    items["zzreplyorgonly"] = operations.reply(
        ane, items["zzorgonly"], "Borgerne skal have svar. zzreplyorgonly")
    # The author answers under her organization-signed reflection: still unnamed to readers.
    items["zzreplysigned"] = operations.reply(
        ann, items["zzsignedorg"], "Kiitos, yhteistyö jatkuu. zzreplysigned")
    items["zzwithdrawnreply"] = operations.reply(
        ane, items["zzwhole"], "Borgerne ringer. zzwithdrawnreply")
    items["zzmsgannbo"] = _conversation(
        collab, "Praktik", [seats["ann"], seats["bo"], seats["lea"]], seats["ann"],
        "Borgerne kan komme torsdag. zzmsgannbo")
    items["zzmsganecy"] = _conversation(
        collab, "Hunde", [seats["ane"], seats["cy"]], seats["ane"],
        "Borgerne elsker hundene. zzmsganecy")
    operations.withdraw_reflection(ann, items["zzwithdrawnreflection"])
    operations.withdraw_reply(ane, items["zzwithdrawnreply"])
    db.session.commit()
    return SimpleNamespace(collab=collab, other=other, partners={"a": a, "b": b, "c": c},
                           seats=seats, actors=actors, items=items)


def leave(world, name: str) -> None:
    """The member leaves the collaboration (access ends with the membership)."""
    actor, user = world.actors[name], world.seats[name].user
    spaces.remove_member(actor, world.seats[name])
    db.session.commit()
    world.actors[name] = policy.actor_for(user)  # the membership is gone, and with it its user


def readable_codes(name: str) -> set[str]:
    return {code for code, readers in READERS.items() if name in readers}


def codes_in(text: str) -> set[str]:
    """The code words a page, an answer or a file shows."""
    return {code for code in READERS if re.search(rf"\b{code}\b", text)}
