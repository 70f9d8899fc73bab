"""Imports every model so that metadata (and Alembic autogenerate) sees all tables."""

from coprod.accounts.bulk import InvitationBatch  # noqa: F401
from coprod.accounts.credentials import RecoveryCode, TotpCredential, UserIdentity  # noqa: F401
from coprod.accounts.models import ApiToken, Invitation, User  # noqa: F401
from coprod.accounts.sessions import UserSession  # noqa: F401
from coprod.admin.models import InstallationSettings  # noqa: F401
from coprod.api.models import IdempotencyKey  # noqa: F401
from coprod.citizens.models import (  # noqa: F401
    AuditEvent,
    Citizen,
    CitizenActivity,
    CitizenGuardian,
    CitizenReference,
    CitizenReferenceCategory,
    Consent,
    ConsentCategory,
    ConsentFriction,  # noqa: F401
    ConsentPartner,
)
from coprod.digests.models import Digest, DigestPreference, DigestSettings  # noqa: F401
from coprod.mail.models import OutboxEmail  # noqa: F401
from coprod.messages.models import Conversation, Message, Participant  # noqa: F401
from coprod.pagecache import PageEpoch  # noqa: F401
from coprod.reflections.models import (  # noqa: F401
    FeedVisit,
    ImprovementAction,
    Mention,
    Reaction,
    Reflection,
    ReflectionAudience,
    ReflectionRevision,
    ReflectionTag,
    Reply,
)
from coprod.routines.models import (  # noqa: F401
    Notification,
    Prompt,
    PromptLeave,
    Routine,
    RoutineAudiencePartner,
    RoutineAudienceRole,
    RoutineOptOut,
)
from coprod.servicemap.models import (  # noqa: F401
    Activity,
    ActivityPerformer,
    InformationCategory,
    InformationFlow,
    InformationFlowCategory,
)
from coprod.spaces.models import (  # noqa: F401
    Charter,
    CharterRevision,
    Collaboration,
    Membership,
    Organization,
    Partner,
    Resource,
    Responsibility,
)
