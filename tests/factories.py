"""factory_boy factories for Coprod's models; they flush into the test's session."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from coprod.accounts.models import ApiToken, Invitation, Role, User
from coprod.common import utcnow
from coprod.extensions import db
from coprod.spaces.models import (
    Charter,
    Collaboration,
    Interdependence,
    Membership,
    Organization,
    Partner,
    Purpose,
    RemitKind,
    Resource,
    Responsibility,
    ResponsibilityKind,
    Sector,
    Tangibility,
)

PASSWORD = "correct horse battery"
_HASH: dict[str, str] = {}


def _password_hash() -> str:
    """Hash the shared test password once; argon2 is slow on purpose."""
    if "h" not in _HASH:
        u = User()
        u.set_password(PASSWORD)
        _HASH["h"] = u.password_hash
    return _HASH["h"]


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    display_name = factory.Faker("name")
    password_hash = factory.LazyFunction(_password_hash)
    locale = "en"
    timezone = "Europe/Copenhagen"


class OrganizationFactory(Base):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    sector = Sector.PUBLIC


class CollaborationFactory(Base):
    class Meta:
        model = Collaboration

    title = factory.Sequence(lambda n: f"Collaboration {n}")
    purpose = Purpose.NEW_SERVICE
    remit_kind = RemitKind.SOCIAL_GROUP
    remit = "People on disability pension"
    description = "Meaningful work for people on disability pension."
    interdependence = Interdependence.RECIPROCAL
    charter = factory.LazyFunction(Charter)


class PartnerFactory(Base):
    class Meta:
        model = Partner

    collaboration = factory.SubFactory(CollaborationFactory)
    organization = factory.SubFactory(OrganizationFactory)


class ResponsibilityFactory(Base):
    class Meta:
        model = Responsibility

    partner = factory.SubFactory(PartnerFactory)
    kind = ResponsibilityKind.OPERATIONAL
    description = "Matches citizens with workplaces"


class ResourceFactory(Base):
    class Meta:
        model = Resource

    partner = factory.SubFactory(PartnerFactory)
    tangibility = Tangibility.INTANGIBLE
    description = "Know-how about job matching"


class MembershipFactory(Base):
    class Meta:
        model = Membership

    collaboration = factory.SubFactory(CollaborationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.COORDINATOR
    partner = None


class InvitationFactory(Base):
    class Meta:
        model = Invitation

    collaboration = factory.SubFactory(CollaborationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.org")
    role = Role.OBSERVER
    expires_at = factory.LazyFunction(lambda: utcnow().replace(year=utcnow().year + 1))


class ApiTokenFactory(Base):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = "test token"
    token_hash = factory.LazyFunction(lambda: ApiToken.digest(ApiToken.generate()))
    display_prefix = "cpd_xxxxxx"


def member(collaboration, role=Role.COORDINATOR, partner=None, **user_kwargs) -> Membership:
    """A new user holding `role` in `collaboration` (on behalf of `partner` if given)."""
    return MembershipFactory(collaboration=collaboration, role=role, partner=partner,
                             user=UserFactory(**user_kwargs))
