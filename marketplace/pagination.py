"""The one pagination convention of the API.

Requests: ``?page=1&per_page=20`` (``per_page`` at most 100). Responses: an envelope
``{"items": [...], "page": 1, "per_page": 20, "total": 57, "pages": 3}`` plus a ``Link`` header
with ``next``/``prev`` relations, so clients can either read the body or follow links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from .extensions import db

MAX_PER_PAGE = 100


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item_schema: type[Schema], name: str | None = None) -> type[Schema]:
    """A response schema for a page of ``item_schema`` items (named for the OpenAPI document)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(),
            "pages": fields.Integer(),
        },
        name=name or f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
    )


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    def link_header(self) -> str:
        links = []
        args = request.args.to_dict()
        for rel, number in (("prev", self.page - 1), ("next", self.page + 1)):
            if 1 <= number <= self.pages:
                args.update(page=str(number), per_page=str(self.per_page))
                query = "&".join(f"{k}={v}" for k, v in args.items())
                links.append(f'<{request.path}?{query}>; rel="{rel}"')
        return ", ".join(links)

    def as_dict(self) -> dict:
        return {"items": self.items, "page": self.page, "per_page": self.per_page,
                "total": self.total, "pages": self.pages}  # fmt: skip


def paginate(stmt, page: int, per_page: int) -> Page:
    """Run ``stmt`` (a ``select``) for one page, with a separate COUNT for the total."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(items=list(items), page=page, per_page=per_page, total=total.scalar_one())
