"""Every rule in coprod/policy/rules.py has a row in one of the policy tables."""

from coprod.accounts.models import ApiToken, Invitation, User
from coprod.messages.models import Conversation, Message
from coprod.policy.rules import RULES
from coprod.reflections.models import ImprovementAction, Reflection, Reply
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
from tests.policy import test_citizen_rules as citizen_table
from tests.policy import test_digest_rules as digest_table
from tests.policy import test_reflection_rules as reflection_table
from tests.policy import test_routine_rules as routine_table
from tests.policy import test_rules_table as space_table
from tests.policy import test_service_map_rules as service_map_table

SPACE_ROWS = {Collaboration: "collaboration", Charter: "charter", CharterRevision: "revision",
              Partner: "partner_a", Responsibility: "responsibility_a", Resource: "resource_a",
              Membership: "membership_of_citizen", Invitation: "invitation",
              Organization: "organization_a", User: "user_citizen",
              ApiToken: "token_of_citizen"}
# Checked one by one in test_reflection_rules (replies, actions, conversations, messages).
REFLECTION_CHECKS = {(Reply, "read"), (Reply, "update"), (Reply, "withdraw"),
                     (Reply, "read_author"),
                     (ImprovementAction, "read"), (ImprovementAction, "update"),
                     (Conversation, "read"), (Conversation, "post"), (Message, "read")}


def test_every_rule_is_in_a_table():
    """A rule added without a row in a table is a rule nobody checked."""
    reflection_actions = set(reflection_table.expected("whole", "active"))
    missing = []
    for model, action in RULES:
        if (model, action) in (citizen_table.CHECKED | routine_table.CHECKED
                               | digest_table.CHECKED):
            ok = True
        elif model in SPACE_ROWS:
            ok = action in space_table.ACTIVE[SPACE_ROWS[model]]
        elif model in service_map_table.ROWS:
            ok = action in service_map_table.ACTIVE[service_map_table.ROWS[model]]
        elif model is Reflection:
            ok = action in reflection_actions
        else:
            ok = (model, action) in REFLECTION_CHECKS
        if not ok:
            missing.append(f"{model.__name__}.{action}")
    assert not missing, f"rules with no row in a policy table: {missing}"
