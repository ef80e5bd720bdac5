"""Admin API: roster imports, freezing and reissuing cards."""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..auth import auth_required, current_principal
from ..errors import NotFound, ValidationFailed
from ..extensions import CSV_RESPONSE, db, file_upload_body
from ..permissions import Actor
from . import importer, jobs, services
from .models import Member, MemberImport, MemberImportError
from .schemas import (
    CardSchema,
    HardshipSchema,
    ImportQuerySchema,
    ImportSchema,
    MemberSchema,
    ReissueSchema,
)

bp = Blueprint(
    "members_admin",
    __name__,
    url_prefix="/api/v1/admin",
    description="Union administration: rosters and cards",
)


def _actor() -> Actor:
    return Actor(current_principal())


def _import_or_404(import_id: int) -> MemberImport:
    imp = db.session.get(MemberImport, import_id)
    if imp is None:
        raise NotFound("No such import.")
    return imp


def _import_view(imp: MemberImport, errors_limit: int = 100) -> dict:
    errors = db.session.scalars(
        db.select(MemberImportError)
        .where(MemberImportError.import_id == imp.id)
        .order_by(MemberImportError.row_no)
        .limit(errors_limit)
    ).all()
    return {
        **{
            c: getattr(imp, c)
            for c in (
                "id",
                "filename",
                "status",
                "encoding",
                "failure",
                "created_at",
                "finished_at",
            )
        },
        "progress": {"processed": imp.processed, "total": imp.total},
        "counts": {
            "created": imp.created,
            "skipped_existing": imp.skipped_existing,
            "rejected": imp.rejected,
        },
        "errors": errors,
        "errors_truncated": imp.rejected > len(errors),
        "rejected_csv_url": url_for("members_admin.rejected_rows", import_id=imp.id),
    }


@bp.route("/member-imports")
class Imports(MethodView):
    @auth_required("member.import")
    @bp.doc(requestBody=file_upload_body(
        "The roster as CSV (UTF-8 or GBK), at most UPLOAD_MAX_BYTES; not empty (else 422). Bad "
        "rows do not fail the upload: the import job reports them."))  # fmt: skip
    @bp.response(202, ImportSchema)
    def post(self):
        """Upload a roster CSV (multipart field ``file``); it is imported by a background job."""
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(
                errors={"file": ["Upload the roster as multipart field 'file'."]}
            )
        data = upload.read()
        if not data.strip():
            raise ValidationFailed(errors={"file": ["The file is empty."]})
        imp = importer.new_import(upload.filename or "roster.csv", data, created_by=_actor().id)
        jobs.store_upload(imp.id, data)
        jobs.enqueue_import(imp.id)
        return _import_view(imp)


@bp.route("/member-imports/<int:import_id>")
class ImportStatus(MethodView):
    @auth_required("member.import")
    @bp.arguments(ImportQuerySchema, location="query")
    @bp.response(200, ImportSchema)
    def get(self, query, import_id):
        """Status, progress, counts and the first rejected rows of an import."""
        return _import_view(_import_or_404(import_id), query["errors_limit"])


@bp.get("/member-imports/<int:import_id>/rejected.csv")
@bp.doc(responses=CSV_RESPONSE)
@auth_required("member.import")
def rejected_rows(import_id):
    """The rejected rows as CSV (UTF-8 with BOM; ID numbers masked)."""
    imp = _import_or_404(import_id)
    return Response(
        importer.rejected_csv(imp).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-rejected.csv"'},
    )


@bp.route("/members/<int:member_id>")
class MemberDetail(MethodView):
    @auth_required("member.view")
    @bp.response(200, MemberSchema)
    def get(self, member_id):
        """One member with all their cards."""
        member = db.session.get(Member, member_id)
        if member is None:
            raise NotFound("No such member.")
        return member


@bp.route("/cards/<card_no>/freeze")
class Freeze(MethodView):
    @auth_required("card.freeze")
    @bp.response(200, CardSchema)
    def post(self, card_no):
        """Freeze a card; the holder's tokens and sessions are revoked."""
        return services.freeze_card(card_no, actor=_actor())


@bp.route("/members/<int:member_id>/reissue")
class Reissue(MethodView):
    @auth_required("card.reissue")
    @bp.arguments(ReissueSchema)
    @bp.response(201, CardSchema)
    def post(self, data, member_id):
        """Freeze the member's card and issue a new one to the same member."""
        return services.reissue_card(member_id, data["new_card_no"], actor=_actor())


@bp.route("/members/<int:member_id>/hardship")
class Hardship(MethodView):
    @auth_required("member.hardship")
    @bp.arguments(HardshipSchema)
    @bp.response(200, MemberSchema)
    def put(self, data, member_id):
        """Mark or unmark a member in hardship (困难职工); lottery sales may weigh them more."""
        return services.set_hardship(member_id, data["hardship"], actor=_actor())


class ResetCodeSchema(Schema):
    member_id = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "8 digits; shown this once"})
    expires_at = fields.DateTime(required=True)


@bp.route("/members/<int:member_id>/reset-codes")
class MemberResetCodes(MethodView):
    @auth_required("member.reset_code")
    @bp.response(201, ResetCodeSchema)
    def post(self, member_id):
        """Issue a one-time password reset code for a member (no SMS: the member came to the
        union). A branch admin: its subtree's members only (else 404). 409 ``not_activated``
        when the card has no login yet. Audit-logged; any older open code is retired."""
        from ..auth import reset
        from ..orgs.tree import scope_of

        principal = current_principal()
        code, row = reset.issue(member_id, scope_of(principal), Actor(principal))
        return {"member_id": member_id, "code": code, "expires_at": row.expires_at}
