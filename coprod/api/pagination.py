"""Lists come in pages: ?page=&page_size=, cut in SQL with LIMIT/OFFSET, wrapped with totals.

Every list answers {"items": [...], "page", "page_size", "total", "total_pages"}. A page_size
above API_PAGE_SIZE_MAX is refused with 422 (not silently capped), so a client never mistakes
a short page for the end of the list.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import Select, func, select

from coprod.extensions import db
from coprod.inputs import PAGE_MAX

DEFAULT_PAGE_SIZE = 20

PAGINATION_DOC = (
    "Lists are paginated with the query parameters `page` (from 1) and `page_size` "
    f"(default {DEFAULT_PAGE_SIZE}; a size above the server's maximum, 100 unless configured "
    "with API_PAGE_SIZE_MAX, answers 422). A list answers an object: `items` (this page), "
    "`page`, `page_size`, `total` (items in all pages) and `total_pages`. A page past the "
    "last one has no items."
)


class PageArgsSchema(Schema):
    """?page=&page_size= of every list; the maximum is read from the config per request."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=PAGE_MAX),
                          metadata={"description": "Page number, from 1."})
    page_size = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1),
        metadata={"description": "Items per page; above API_PAGE_SIZE_MAX (100) answers 422.",
                  "maximum": 100})

    @validates("page_size")
    def _within_maximum(self, value: int, **kwargs) -> None:
        maximum = current_app.config["API_PAGE_SIZE_MAX"]
        if value > maximum:
            raise ValidationError(_("At most %(n)d items per page.", n=maximum))


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The schema of one page of `item_schema` objects (named after it in the OpenAPI)."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "page_size": fields.Integer(required=True),
        "total": fields.Integer(required=True, metadata={"description": "Items in all pages."}),
        "total_pages": fields.Integer(required=True),
    }, name=name)


def paginate(stmt: Select, args: dict) -> dict:
    """One page of a policy-scoped select: a COUNT and a LIMIT/OFFSET query, nothing more."""
    page, page_size = args["page"], args["page_size"]
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique()
    return {
        "items": items.all(),
        "page": page,
        "page_size": page_size,
        "total": total,
        "total_pages": -(-total // page_size),
    }
