"""Every rule of who may do what to which object, in one table.

A rule is (model, action) -> grants (any may allow) and conditions (all must hold). A rule with
no grant allows nobody. Views and API routes never decide access themselves: they ask
coprod.policy, which reads this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, select

from coprod.accounts.models import ApiToken, Invitation, Role, User
from coprod.citizens.models import AuditEvent, Citizen, Consent
from coprod.digests.models import Digest
from coprod.messages.models import Conversation, Message
from coprod.policy.actors import Actor
from coprod.policy.consent import (
    CitizenContentKnown,
    CitizenNotErased,
    CitizenSubject,
    PartnerMayKnowCitizen,
    PartnerNeedsToKnow,
)
from coprod.policy.grants import (
    AllOf,
    CollaborationActive,
    Grant,
    MemberWithRole,
    Owner,
    StaffOfPartner,
    all_of,
    any_of,
)
from coprod.policy.visibility import (
    AttributedToPerson,
    ConversationParticipant,
    NotTheAuthor,
    ReadsReflection,
    ReflectionCanBecomeAction,
    ReflectionOpen,
    ReplyNamesItsAuthor,
    SpeaksForAPartner,
)
from coprod.reflections.models import ImprovementAction, Reflection, Reply
from coprod.routines.models import Notification, Prompt, Routine
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import (
    Charter,
    CharterRevision,
    Collaboration,
    Membership,
    Organization,
    Partner,
    Resource,
    Responsibility,
)


@dataclass(frozen=True)
class Scope:
    """How to find an object's collaboration, partner and owner, in Python and in SQL."""

    collaboration_id_col: Callable = lambda: None
    collaboration_id_of: Callable = lambda obj: None
    collaboration_of: Callable = lambda obj: None
    partner_id_col: Callable = lambda: None
    partner_id_of: Callable = lambda obj: None
    owner_id_col: Callable = lambda: None
    owner_id_of: Callable = lambda obj: None
    reflection_id_col: Callable = lambda: None
    reflection_of: Callable = lambda obj: None
    conversation_id_col: Callable = lambda: None
    conversation_of: Callable = lambda obj: None
    citizen_id_col: Callable = lambda: None
    citizen_of: Callable = lambda obj: None


def _partner_collaboration_col(model):
    return (
        select(Partner.collaboration_id)
        .where(Partner.id == model.partner_id)
        .correlate_except(Partner)
        .scalar_subquery()
    )


SCOPES: dict[type, Scope] = {
    Collaboration: Scope(lambda: Collaboration.id, lambda o: o.id, lambda o: o),
    Charter: Scope(
        lambda: Charter.collaboration_id, lambda o: o.collaboration_id, lambda o: o.collaboration
    ),
    CharterRevision: Scope(
        lambda: CharterRevision.collaboration_id,
        lambda o: o.collaboration_id,
        lambda o: db_get(Collaboration, o.collaboration_id),
    ),
    Partner: Scope(
        lambda: Partner.collaboration_id,
        lambda o: o.collaboration_id,
        lambda o: o.collaboration,
        lambda: Partner.id,
        lambda o: o.id,
    ),
    Responsibility: Scope(
        lambda: _partner_collaboration_col(Responsibility),
        lambda o: o.partner.collaboration_id,
        lambda o: o.partner.collaboration,
        lambda: Responsibility.partner_id,
        lambda o: o.partner_id,
    ),
    Resource: Scope(
        lambda: _partner_collaboration_col(Resource),
        lambda o: o.partner.collaboration_id,
        lambda o: o.partner.collaboration,
        lambda: Resource.partner_id,
        lambda o: o.partner_id,
    ),
    Membership: Scope(
        lambda: Membership.collaboration_id,
        lambda o: o.collaboration_id,
        lambda o: o.collaboration,
        lambda: Membership.partner_id,
        lambda o: o.partner_id,
        lambda: Membership.user_id,
        lambda o: o.user_id,
    ),
    Invitation: Scope(
        lambda: Invitation.collaboration_id, lambda o: o.collaboration_id, lambda o: o.collaboration
    ),
    ApiToken: Scope(owner_id_col=lambda: ApiToken.user_id, owner_id_of=lambda o: o.user_id),
    Reflection: Scope(
        collaboration_id_col=lambda: Reflection.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
        partner_id_col=lambda: Reflection.partner_id,
        partner_id_of=lambda o: o.partner_id,
        owner_id_col=lambda: Reflection.author_id,
        owner_id_of=lambda o: o.author_id,
        reflection_id_col=lambda: Reflection.id,
        reflection_of=lambda o: o,
    ),
    Reply: Scope(
        collaboration_id_col=lambda: select(Reflection.collaboration_id).where(
            Reflection.id == Reply.reflection_id).correlate_except(Reflection).scalar_subquery(),
        collaboration_id_of=lambda o: o.reflection.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.reflection.collaboration_id),
        owner_id_col=lambda: Reply.author_id,
        owner_id_of=lambda o: o.author_id,
        reflection_id_col=lambda: Reply.reflection_id,
        reflection_of=lambda o: o.reflection,
    ),
    ImprovementAction: Scope(
        collaboration_id_col=lambda: select(Reflection.collaboration_id).where(
            Reflection.id == ImprovementAction.reflection_id).correlate_except(Reflection)
        .scalar_subquery(),
        collaboration_id_of=lambda o: o.reflection.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.reflection.collaboration_id),
        partner_id_col=lambda: ImprovementAction.owner_partner_id,
        partner_id_of=lambda o: o.owner_partner_id,
        reflection_id_col=lambda: ImprovementAction.reflection_id,
        reflection_of=lambda o: o.reflection,
    ),
    Conversation: Scope(
        collaboration_id_col=lambda: Conversation.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
        conversation_id_col=lambda: Conversation.id,
        conversation_of=lambda o: o,
    ),
    Message: Scope(
        collaboration_id_col=lambda: select(Conversation.collaboration_id).where(
            Conversation.id == Message.conversation_id).correlate_except(Conversation)
        .scalar_subquery(),
        collaboration_id_of=lambda o: db_get(Conversation, o.conversation_id).collaboration_id,
        collaboration_of=lambda o: db_get(
            Collaboration, db_get(Conversation, o.conversation_id).collaboration_id),
        owner_id_col=lambda: Message.author_id,
        owner_id_of=lambda o: o.author_id,
        conversation_id_col=lambda: Message.conversation_id,
        conversation_of=lambda o: db_get(Conversation, o.conversation_id),
    ),
    **{model: Scope(
        collaboration_id_col=lambda model=model: model.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
    ) for model in (Activity, InformationCategory, InformationFlow)},
    Citizen: Scope(
        collaboration_id_col=lambda: Citizen.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
        citizen_id_col=lambda: Citizen.id,
        citizen_of=lambda o: o,
    ),
    Consent: Scope(
        collaboration_id_col=lambda: select(Citizen.collaboration_id).where(
            Citizen.id == Consent.citizen_id).correlate_except(Citizen).scalar_subquery(),
        collaboration_id_of=lambda o: o.citizen.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.citizen.collaboration_id),
        citizen_id_col=lambda: Consent.citizen_id,
        citizen_of=lambda o: o.citizen,
    ),
    AuditEvent: Scope(
        collaboration_id_col=lambda: AuditEvent.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
        citizen_id_col=lambda: AuditEvent.citizen_id,
        citizen_of=lambda o: db_get(Citizen, o.citizen_id),
    ),
    Routine: Scope(
        collaboration_id_col=lambda: Routine.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
    ),
    Prompt: Scope(
        collaboration_id_col=lambda: select(Routine.collaboration_id).where(
            Routine.id == Prompt.routine_id).correlate_except(Routine).scalar_subquery(),
        collaboration_id_of=lambda o: db_get(Routine, o.routine_id).collaboration_id,
        collaboration_of=lambda o: db_get(
            Collaboration, db_get(Routine, o.routine_id).collaboration_id),
        owner_id_col=lambda: Prompt.user_id,
        owner_id_of=lambda o: o.user_id,
    ),
    Notification: Scope(
        collaboration_id_col=lambda: Notification.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
        owner_id_col=lambda: Notification.user_id,
        owner_id_of=lambda o: o.user_id,
    ),
    Digest: Scope(
        collaboration_id_col=lambda: Digest.collaboration_id,
        collaboration_id_of=lambda o: o.collaboration_id,
        collaboration_of=lambda o: db_get(Collaboration, o.collaboration_id),
    ),
    Organization: Scope(),
    User: Scope(owner_id_col=lambda: User.id, owner_id_of=lambda o: o.id),
}


def db_get(model, ident):
    from coprod.extensions import db

    return db.session.get(model, ident)


class PartnerInMyCollaborations(Grant):
    """An organization is known to the members of every collaboration it is a partner in."""

    def _my_collaborations(self, actor: Actor):
        return list(actor.seats())

    def allows(self, actor, obj, scope):
        from coprod.extensions import db

        mine = self._my_collaborations(actor)
        if not mine:
            return False
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        Partner.organization_id == obj.id, Partner.collaboration_id.in_(mine)
                    )
                )
            )
        )

    def where(self, actor, scope):
        from coprod.spaces.models import Membership as M

        return Organization.id.in_(
            select(Partner.organization_id).where(
                Partner.collaboration_id.in_(
                    select(M.collaboration_id).where(M.user_id == actor.user_id)
                )
            )
        )


class SharesACollaboration(Grant):
    """Members of one collaboration know each other (name, role), and one knows oneself."""

    def allows(self, actor, obj, scope):
        from coprod.extensions import db

        if actor.user_id is None:
            return False
        if obj.id == actor.user_id:
            return True
        mine = list(actor.seats())
        return bool(mine) and bool(
            db.session.scalar(
                select(
                    exists().where(
                        Membership.user_id == obj.id, Membership.collaboration_id.in_(mine)
                    )
                )
            )
        )

    def where(self, actor, scope):
        from sqlalchemy import false, or_

        if actor.user_id is None:
            return false()
        return or_(
            User.id == actor.user_id,
            User.id.in_(
                select(Membership.user_id).where(
                    Membership.collaboration_id.in_(
                        select(Membership.collaboration_id).where(
                            Membership.user_id == actor.user_id
                        )
                    )
                )
            ),
        )


class DigestSent(Grant):
    """The digest has been sent (reviewed, or sent automatically)."""

    def allows(self, actor, obj, scope):
        from coprod.digests.models import DigestStatus

        return obj.status == DigestStatus.SENT

    def where(self, actor, scope):
        from coprod.digests.models import DigestStatus

        return Digest.status == DigestStatus.SENT


@dataclass(frozen=True)
class Rule:
    grants: tuple[Grant, ...]
    conditions: tuple = ()

    def allows(self, actor: Actor, obj, scope: Scope) -> bool:
        return all(c.allows(actor, obj, scope) for c in self.conditions) and any(
            g.allows(actor, obj, scope) for g in self.grants
        )

    def where(self, actor: Actor, scope: Scope):
        return all_of([c.where(actor, scope) for c in self.conditions]) & any_of(
            [g.where(actor, scope) for g in self.grants]
        )

    def where_given(self, actor: Actor, scope: Scope, known: Rule):
        """The filter for rows already known to pass `known` (a statement filtered them by
        it): equal to where() on those rows, without the conditions `known` guarantees
        (implied_by). A search page asks who may be named under each of its rows: with the
        read rule written again there, PostgreSQL spent more time planning the page than
        running it."""
        implied = self.implied_by(known)
        return all_of([c.where(actor, scope) for c in self.conditions
                       if c not in implied]) & any_of([g.where(actor, scope)
                                                       for g in self.grants])

    def implied_by(self, known: Rule) -> list:
        """This rule's conditions that hold of every object `known` allows: its conditions,
        and its grant when it has only one (a rule allows by at least one of its grants)."""
        guaranteed = [*known.conditions, *(known.grants if len(known.grants) == 1 else ())]
        return [c for c in self.conditions if c in guaranteed]


def rule(*grants: Grant, active: bool = False, when: tuple = ()) -> Rule:
    """Grants (any may allow), plus conditions that must all hold: `when` and, if `active`,
    a collaboration that is not archived."""
    return Rule(tuple(grants), tuple(when) + ((CollaborationActive(),) if active else ()))


ANY_MEMBER = MemberWithRole()
COORDINATOR = MemberWithRole(Role.COORDINATOR)
# Members who take part in the conversation of a space; observers only read.
SPEAKERS = MemberWithRole(Role.COORDINATOR, Role.PARTNER_STAFF, Role.CITIZEN, Role.GUARDIAN)
READS = ReadsReflection()
OPEN = ReflectionOpen()
SUBJECT = CitizenSubject()
NEED_TO_KNOW = PartnerNeedsToKnow()
CASE_STAFF = PartnerNeedsToKnow(Role.PARTNER_STAFF)
NOT_ERASED = CitizenNotErased()

# Models whose read rule needs no statement of its own: the actor's facts (their seats) decide
# it with the object in hand. policy.get_or_404 loads them by their key and asks may().
READ_BY_KEY = frozenset({Collaboration})

RULES: dict[tuple[type, str], Rule] = {
    (Collaboration, "read"): rule(ANY_MEMBER),
    # Coordinators may edit, archive and reopen; nothing else changes in an archived space.
    (Collaboration, "update"): rule(COORDINATOR),
    # Editing the fields (and archiving) needs an active space; reopening goes through "update".
    (Collaboration, "edit"): rule(COORDINATOR, active=True),
    # Who was invited, by whom, and with what status: coordinators, also once archived.
    (Collaboration, "read_invitations"): rule(COORDINATOR),
    (Collaboration, "manage_partners"): rule(COORDINATOR, active=True),
    (Collaboration, "invite"): rule(COORDINATOR, active=True),
    (Charter, "read"): rule(ANY_MEMBER),
    (Charter, "update"): rule(COORDINATOR, active=True),
    (CharterRevision, "read"): rule(ANY_MEMBER),
    (Partner, "read"): rule(ANY_MEMBER),
    # A partner describes its own responsibilities and resources; coordinators may too.
    (Partner, "update"): rule(COORDINATOR, StaffOfPartner(), active=True),
    (Partner, "delete"): rule(COORDINATOR, active=True),
    (Responsibility, "read"): rule(ANY_MEMBER),
    (Resource, "read"): rule(ANY_MEMBER),
    (Membership, "read"): rule(ANY_MEMBER),
    (Membership, "update"): rule(COORDINATOR, active=True),
    # Members see each other's names and roles; an email address only its owner and coordinators.
    (Membership, "read_email"): rule(COORDINATOR, Owner()),
    # Coordinators remove members; anyone may leave.
    (Membership, "delete"): rule(COORDINATOR, Owner()),
    (Invitation, "read"): rule(COORDINATOR),
    (Invitation, "revoke"): rule(COORDINATOR, active=True),
    (Organization, "read"): rule(PartnerInMyCollaborations()),
    (User, "read"): rule(SharesACollaboration()),
    (ApiToken, "read"): rule(Owner()),
    (ApiToken, "revoke"): rule(Owner()),
    # -- reflections (visibility in coprod/policy/visibility.py) --
    (Collaboration, "post_reflection"): rule(SPEAKERS, active=True),
    (Collaboration, "start_conversation"): rule(ANY_MEMBER, active=True),
    (Reflection, "read"): rule(READS),
    # Who wrote it, when the author chose to speak for their organization only: coordinators.
    (Reflection, "read_author"): rule(AttributedToPerson(), Owner(), COORDINATOR, when=(READS,)),
    (Reflection, "update"): rule(Owner(), active=True, when=(READS, OPEN)),
    (Reflection, "withdraw"): rule(Owner(), COORDINATOR, active=True, when=(READS, OPEN)),
    (Reflection, "reply"): rule(SPEAKERS, active=True, when=(READS, OPEN)),
    # "We see this too" is said by a partner organization, through one of its members.
    # Not by the reflection's author: they are the one who said it first.
    (Reflection, "react"): rule(SpeaksForAPartner(), active=True,
                                when=(READS, OPEN, NotTheAuthor())),
    (Reflection, "create_action"): rule(
        COORDINATOR, StaffOfPartner(), active=True,
        when=(READS, OPEN, ReflectionCanBecomeAction())),
    (Reply, "read"): rule(READS, when=(CitizenContentKnown(lambda: Reply.id),)),
    (Reply, "read_author"): rule(ReplyNamesItsAuthor(), Owner(), COORDINATOR, when=(READS,)),
    (Reply, "update"): rule(Owner(), active=True, when=(READS, OPEN)),
    (Reply, "withdraw"): rule(Owner(), COORDINATOR, active=True, when=(READS,)),
    (ImprovementAction, "read"): rule(READS),
    # The owning partner's staff and coordinators move an action along.
    (ImprovementAction, "update"): rule(COORDINATOR, StaffOfPartner(), active=True,
                                        when=(READS,)),
    (Conversation, "read"): rule(ConversationParticipant(), when=(ANY_MEMBER,)),
    (Conversation, "post"): rule(ConversationParticipant(), active=True, when=(ANY_MEMBER,)),
    (Message, "read"): rule(ConversationParticipant(), when=(
        ANY_MEMBER, CitizenContentKnown(lambda: Message.id))),
    # -- the service map: members read it, coordinators of an active space draw it --
    (Collaboration, "edit_service_map"): rule(COORDINATOR, active=True),
    **{(model, action): rule(COORDINATOR, active=True) if action != "read" else rule(ANY_MEMBER)
       for model in (Activity, InformationCategory, InformationFlow)
       for action in ("read", "create", "update", "delete")},
    # -- citizens and consent (need-to-know: coprod/policy/consent.py) --
    (Collaboration, "add_citizen"): rule(COORDINATOR, active=True),
    # The list of citizens: each row still answers to (Citizen, "read").
    (Collaboration, "list_citizens"): rule(COORDINATOR, MemberWithRole(Role.PARTNER_STAFF)),
    # The pseudonym: coordinators, partners with a need to know, the citizen and guardians.
    (Citizen, "read"): rule(COORDINATOR, NEED_TO_KNOW, SUBJECT),
    # The name and details: partners that may know something of the citizen right now.
    (Citizen, "read_identity"): rule(COORDINATOR, PartnerMayKnowCitizen(), SUBJECT,
                                     when=(NOT_ERASED,)),
    (Citizen, "update"): rule(COORDINATOR, active=True, when=(NOT_ERASED,)),
    # A consent given on paper or in person is recorded by a coordinator (a partner's staff
    # would be granting access to other partners); the citizen or a guardian gives it online.
    (Citizen, "record_consent"): rule(COORDINATOR, SUBJECT, active=True, when=(NOT_ERASED,)),
    # Withdrawal only ever narrows access: case staff may record one on the citizen's behalf.
    # It is always possible, also in an archived space.
    (Citizen, "withdraw_consent"): rule(SUBJECT, COORDINATOR, CASE_STAFF, when=(NOT_ERASED,)),
    (Citizen, "read_consents"): rule(SUBJECT, COORDINATOR, NEED_TO_KNOW),
    (Citizen, "read_audit"): rule(SUBJECT, COORDINATOR),
    (Citizen, "download"): rule(SUBJECT, COORDINATOR, when=(NOT_ERASED,)),
    (Citizen, "erase"): rule(COORDINATOR, when=(NOT_ERASED,)),
    # Who reads citizens' information at work (not about themselves): coordinators and staff
    # whose organization may know something of the citizen now. The installation may require
    # a second factor of them (COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS, accounts/twofactor.py).
    (Citizen, "read_at_work"): rule(COORDINATOR, PartnerMayKnowCitizen(), when=(NOT_ERASED,)),
    # Who may write about the citizen at all (the categories are checked when posting).
    (Citizen, "reference"): rule(PartnerMayKnowCitizen(), active=True, when=(NOT_ERASED,)),
    (Consent, "read"): rule(SUBJECT, COORDINATOR, NEED_TO_KNOW),
    (AuditEvent, "read"): rule(SUBJECT, COORDINATOR),
    # -- knowledge-sharing routines: members see them, coordinators run them --
    (Collaboration, "create_routine"): rule(COORDINATOR, active=True),
    (Collaboration, "read_response_rates"): rule(COORDINATOR),
    # Any member may pause their own prompts (leave) while the space is active.
    (Collaboration, "take_leave"): rule(ANY_MEMBER, active=True),
    (Routine, "read"): rule(ANY_MEMBER),
    (Routine, "update"): rule(COORDINATOR, active=True),
    (Routine, "delete"): rule(COORDINATOR, active=True),
    # A prompt is its member's own; answering it needs the member to still be one.
    (Prompt, "read"): rule(Owner(), when=(ANY_MEMBER,)),
    (Prompt, "respond"): rule(Owner(), active=True, when=(SPEAKERS,)),
    (Notification, "read"): rule(Owner(), when=(ANY_MEMBER,)),
    (Notification, "update"): rule(Owner()),
    # -- learning digests: every member reads one (coprod/digests/readers.py filters what
    # their class sees); coordinators set the cadence and review, note and send them --
    # A digest waiting for the coordinators' review is theirs until they send it.
    (Digest, "read"): rule(COORDINATOR, AllOf(ANY_MEMBER, DigestSent())),
    (Collaboration, "read_digests"): rule(ANY_MEMBER),
    (Digest, "review"): rule(COORDINATOR, active=True),
    (Collaboration, "digest_settings"): rule(COORDINATOR, active=True),
}
