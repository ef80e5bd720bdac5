"""The one pagination convention of the API.

Requests: ``?page=1&per_page=20`` (``per_page`` at most 100). Responses: an envelope
``{"items": [...], "page": 1, "per_page": 20, "total": 57, "pages": 3}`` plus a ``Link`` header
with ``next``/``prev`` relations, so clients can either read the body or follow links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import current_app, request, url_for
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from .extensions import db

MAX_PER_PAGE = 100
MAX_PAGE = 100_000


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
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
        """``prev``/``next`` links built with ``url_for`` from the parsed page and the filters the
        view declares, percent-encoded: nothing else from the query string reaches the header."""
        filters = {
            name: request.args.getlist(name)
            for name in _declared_query_args()
            if name not in {"page", "per_page"} and name in request.args
        }
        links = []
        for rel, number in (("prev", self.page - 1), ("next", self.page + 1)):
            if 1 <= number <= self.pages:
                url = url_for(
                    request.endpoint,
                    **(request.view_args or {}),
                    page=number,
                    per_page=self.per_page,
                    **filters,
                )
                links.append(f'<{url}>; rel="{rel}"')
        return ", ".join(links)

    def as_response(self) -> tuple:
        """The view's return value: the envelope, 200 and the ``Link`` header (when any)."""
        link = self.link_header()
        return self.as_dict(), 200, ({"Link": link} if link else {})

    def as_dict(self) -> dict:
        return {"items": self.items, "page": self.page, "per_page": self.per_page,
                "total": self.total, "pages": self.pages}  # fmt: skip


def _declared_query_args() -> list[str]:
    """Query parameter names of the current view's flask-smorest argument schemas."""
    view = current_app.view_functions.get(request.endpoint)
    view = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    names: list[str] = []
    for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        names.extend(field.data_key or name for name, field in schema.fields.items())
    return names


def page_arg() -> int:
    """The ``?page=`` of an HTML page (the API validates it with :class:`PageArgsSchema`):
    anything missing, malformed or out of range reads as the nearest valid page."""
    return max(1, min(request.args.get("page", 1, type=int), MAX_PAGE))


def paginate(stmt, page: int, per_page: int) -> Page:
    """Run ``stmt`` (a ``select``) for one page, with a separate COUNT for the total."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(items=list(items), page=page, per_page=per_page, total=total.scalar_one())
