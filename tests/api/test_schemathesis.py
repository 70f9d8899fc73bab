"""Schemathesis against /api/v1/openapi.json, in process (WSGI), with a coordinator's token
and with a partner staff member's: every operation, with data that fits its schema and data
that does not, must answer no 5xx and nothing its OpenAPI document does not describe (a
status it does not list, another content type, a body its schema refuses).

The world (tests/worlds.py) holds one of everything (partners, members, an invitation, a
reflection with a reply, an action, a conversation, the service map, a citizen with a
consent, a routine, a digest), so that half of the examples aim at objects that exist: their
path ids are the world's, the other half are drawn by Schemathesis (mostly 404). Each
example runs in a SAVEPOINT rolled back afterwards, so a DELETE does not leave the next
example without its object. 30 examples per operation and mode in the ci profile, 3 in dev
(a third of that as partner staff); the operations are split into shards that xdist spreads
over the cores.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from flask import g
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import fresh_world, in_ci_profile, shards, worlds
from tests.worlds import one_of_everything

# Examples per operation and generation mode: as a coordinator 30 in ci, 3 in dev; as
# partner staff (who may change less) a third of that, to keep the suite's time in bounds.
EXAMPLES = {"coordinator": worlds(ci=30), "partner_staff": worlds(ci=10)}
SHARDS = shards(ci=8)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Fuzzing is for `make test`; `make test-fast` leaves it out, like the fault tests.
pytestmark = pytest.mark.fuzz

@pytest.fixture
def world(db, bearer):
    """A collaboration the caller coordinates, with one of every object; ids by path name."""
    w = one_of_everything()
    db.session.commit()
    return w.ids, {"coordinator": bearer(w.coordinator.user),
                   "partner_staff": bearer(w.staff.user)}


def _run(operation, mode, examples_, ids, headers, db, seen: Counter) -> str | None:
    """`examples_` examples of one operation; the first failure found, or None. `seen` counts
    the answers by class (2xx, 4xx...)."""
    @settings(max_examples=examples_, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],  # the first failure, unshrunk: bounded
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), aim=st.booleans())
    def examples(case, aim):
        if aim and case.path_parameters:  # at the world's objects
            case.path_parameters = {name: ids.get(name, value)
                                    for name, value in case.path_parameters.items()}
        with fresh_world(db):
            g.__dict__.clear()  # a fresh request's g, as in production (see conftest)
            response = case.call(headers=headers)
            seen[f"{response.status_code // 100}xx"] += 1
            case.validate_response(response, checks=CHECKS)

    if in_ci_profile():
        examples = seed(20261203)(examples)
    try:
        examples()
    except Exception as exc:  # noqa: BLE001 (every operation's failure is reported at once)
        return f"{mode.value} {operation.label}: {type(exc).__name__}: {exc}"[:3000]
    return None


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("role", ["coordinator", "partner_staff"])
def test_the_api_answers_no_5xx_and_only_what_its_document_describes(app, db, world, role,
                                                                     shard):
    ids, tokens = world
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations_ = [result.ok() for result in schema.get_all_operations()]
    assert len(operations_) >= 90  # the document was read whole
    seen: Counter = Counter()
    failures = [failure for index, operation in enumerate(operations_)
                if index % SHARDS == shard
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if (failure := _run(operation, mode, EXAMPLES[role], ids, tokens[role], db,
                                    seen))]
    assert not failures, "\n\n".join(failures)
    assert seen["2xx"] and seen["4xx"], seen  # the world was reached, and so were refusals
