"""Small shared pieces for models: UTC time and portable enum columns."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy import Enum as SAEnum
from wtforms import SelectChoice


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp in Coprod is stored in UTC."""
    return datetime.now(UTC)


def enum_column(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """A VARCHAR + CHECK enum (values, not names), the same on PostgreSQL and SQLite."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda e: [m.value for m in e],
        length=32,
    )


class Choice(enum.StrEnum):
    """An enum whose members carry a human label for forms and pages."""

    def __new__(cls, value: str, label: str = ""):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label or value.replace("_", " ").capitalize()
        return obj

    def __str__(self) -> str:
        return self.value

    @classmethod
    def choices(cls) -> list[SelectChoice]:
        """The members as options of a select or radio field: the value and its label (lazy,
        translated when shown). The options are made once per enum: a form makes its fields
        on every request, a posted reflection's seven of them."""
        return list(_options(cls))


@functools.cache
def _options(choice: type[Choice]) -> tuple[SelectChoice, ...]:
    return tuple(SelectChoice(m.value, m.label) for m in choice)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware datetime, also on SQLite which drops the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use coprod.common.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class OperationError(Exception):
    """A change refused for a reason the user can fix; `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.status = status
