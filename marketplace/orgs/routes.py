"""Admin API of the organisation tree (``/api/v1/admin/orgs``) and branch admin accounts."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from ..auth import auth_required, current_principal
from ..extensions import db
from ..pagination import PageArgsSchema, page_schema, paginate
from ..permissions import Actor
from ..validation import id_field, password_field
from . import tree
from .models import KINDS, Org

bp = Blueprint(
    "orgs_admin",
    __name__,
    url_prefix="/api/v1/admin",
    description="Union organisations: the city federation, districts, branches, branch admins",
)


class OrgSchema(Schema):
    id = fields.Integer(dump_only=True)
    parent_id = fields.Integer(allow_none=True)
    kind = fields.String(validate=validate.OneOf(KINDS))
    name = fields.String(validate=validate.Length(min=1, max=100))
    region = fields.String(allow_none=True, validate=validate.Length(equal=6))
    path = fields.String(dump_only=True)
    members = fields.Integer(dump_only=True)
    depth = fields.Integer(dump_only=True)


PARENT_RULE = (
    "A district hangs under a city. A branch hangs under a district. "
    "The city federation has no parent."
)
NAME_RULE = "Trimmed: 1-100 characters, no control characters."


class OrgCreateSchema(Schema):
    parent_id = id_field(required=True, metadata={"description": PARENT_RULE})
    kind = fields.String(required=True, validate=validate.OneOf(("district", "branch")))
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=100), metadata={"description": NAME_RULE}
    )
    region = fields.String(
        load_default=None,
        validate=validate.Length(equal=6),
        metadata={"description": "A district's region code, else 'Unknown region code.'"},
    )


class OrgPatchSchema(Schema):
    name = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": NAME_RULE}
    )
    parent_id = id_field(metadata={"description": PARENT_RULE})


class OrgMemberSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    id_number_masked = fields.Function(lambda m: "*" * 14 + m.id_last4)
    phone = fields.String()
    org_id = fields.Integer()
    region = fields.String()
    card_status = fields.Function(lambda m: m.current_card.status if m.current_card else None)


class BranchAdminCreateSchema(Schema):
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Trimmed: 1 to 64 characters, not only digits."},
    )
    password = password_field(required=True)
    org_id = id_field(required=True)


class BranchAdminSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    org_id = fields.Integer()


def visible_orgs(scope: Org | None) -> list[dict]:
    """Every node the caller may see (its subtree), with member counts, in tree order."""
    from ..members.models import Member

    stmt = select(Org).order_by(Org.path)
    if scope is not None:
        stmt = stmt.where(Org.id.in_(tree.subtree_ids(scope)))
    orgs = db.session.scalars(stmt).all()
    counts = dict(
        db.session.execute(
            select(Member.org_id, func.count())
            .where(Member.org_id.in_([o.id for o in orgs]))
            .group_by(Member.org_id)
        ).all()
    )
    return [
        {c: getattr(o, c) for c in ("id", "parent_id", "kind", "name", "region", "path")}
        | {"members": counts.get(o.id, 0), "depth": o.depth}
        for o in orgs
    ]


def org_members(scope: Org | None, org_id: int, page: int, per_page: int):
    """The members of ``org_id``'s subtree, if it lies in the caller's scope (else 404)."""
    from ..members.models import Member

    org = tree.get_org(org_id, within=scope)
    stmt = select(Member).where(Member.org_id.in_(tree.subtree_ids(org))).order_by(Member.id)
    return paginate(stmt, page, per_page)


def create_branch_admin(username: str, password: str, org_id: int, actor=None):
    from ..auth.services import create_account

    tree.get_org(org_id)
    return create_account(username, password, "branch_admin", org_id=org_id, actor=actor)


@bp.route("/orgs")
class Orgs(MethodView):
    @auth_required("org.view")
    @bp.response(200, OrgSchema(many=True))
    def get(self):
        """The organisation tree in path order (a branch admin: its own subtree)."""
        return visible_orgs(tree.scope_of(current_principal()))

    @auth_required("org.manage")
    @bp.arguments(OrgCreateSchema)
    @bp.response(201, OrgSchema)
    def post(self, data):
        """Add a district under the city, or a branch under a district."""
        return tree.create_org(data["parent_id"], data["kind"], data["name"], data["region"])


@bp.route("/orgs/<int:org_id>")
class OrgDetail(MethodView):
    @auth_required("org.manage")
    @bp.arguments(OrgPatchSchema)
    @bp.response(200, OrgSchema)
    def patch(self, data, org_id):
        """Rename a node, or move it (and its subtree) under another node of the right kind."""
        org = tree.get_org(org_id)
        if "name" in data:
            org = tree.rename_org(org, data["name"])
        if "parent_id" in data:
            org = tree.move_org(org, data["parent_id"])
        return org

    @auth_required("org.manage")
    @bp.response(204)
    def delete(self, org_id):
        """Delete an empty node (409 ``org_not_empty`` otherwise)."""
        tree.delete_org(tree.get_org(org_id))


@bp.route("/orgs/<int:org_id>/members")
class OrgMembers(MethodView):
    @auth_required("org.members")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(OrgMemberSchema, "OrgMemberPageSchema"))
    def get(self, args, org_id):
        """Members of the node and every node under it; ID numbers masked. Outside the
        caller's subtree: 404."""
        scope = tree.scope_of(current_principal())
        return org_members(scope, org_id, **args).as_response()


@bp.route("/branch-admins")
class BranchAdmins(MethodView):
    @auth_required("org.manage")
    @bp.arguments(BranchAdminCreateSchema)
    @bp.response(201, BranchAdminSchema)
    def post(self, data):
        """Create a branch admin account bound to one node (it manages that node's subtree)."""
        return create_branch_admin(
            data["username"], data["password"], data["org_id"], Actor(current_principal())
        )
