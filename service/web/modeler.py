"""Pages of the in-browser modeler (role admin or owner): drafts of the process files, the editor, the check (validation,
scenarios, diff, affected cases) and deploying or discarding a draft. The work is done by service/drafts.py."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf.csrf import generate_csrf

from ..drafts import DraftService, form_problems
from ..errors import Conflict, Forbidden, Invalid, NotFound
from . import services
from .pages import principal

modeler = Blueprint("modeler", __name__, url_prefix="/processes/edit")
ASSETS = {"modeler.js": "text/javascript", "modeler.css": "text/css"}
FONTS = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject",
         ".svg": "image/svg+xml"}
MAX_FORM_TEXT = 2 * 1024 * 1024


def _drafts() -> DraftService:
    s = services()
    return DraftService(s.db, s.deployments, s.cases)


def _owner() -> None:
    if not principal().owns_processes:
        abort(403)


@modeler.get("/assets/<name>")
@modeler.get("/assets/fonts/<font>", defaults={"name": None})
def asset(name: str | None, font: str | None = None):
    """The modeler bundle built by `npm run build` (scripts/build-modeler.mjs) from node_modules, and its fonts."""
    from pathlib import PurePath

    from . import ROOT
    folder = ROOT / "build" / "modeler"
    if font is not None:
        suffix = PurePath(font).suffix
        if suffix not in FONTS or "/" in font or font.startswith("."):
            abort(404)
        path, mimetype = folder / "fonts" / font, FONTS[suffix]
    else:
        if name not in ASSETS:
            abort(404)
        path, mimetype = folder / name, ASSETS[name]
    if not path.is_file():
        abort(404)
    response = Response(path.read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@modeler.get("")
@login_required
def drafts():
    _owner()
    return render_template("modeler_drafts.html", drafts=_drafts().drafts(principal()),
                           live=services().deployments.current())


@modeler.post("/new")
@login_required
def new():
    _owner()
    draft_id = _drafts().create(principal())
    flash(_("已新建草稿 #%(id)s（现行版本的副本）。", id=draft_id), "success")
    return redirect(url_for("modeler.edit", draft_id=draft_id))


def _draft_or_404(draft_id: int) -> dict[str, Any]:
    try:
        return _drafts().draft(principal(), draft_id)
    except NotFound:
        abort(404)


@modeler.get("/<int:draft_id>")
@login_required
def edit(draft_id: int):
    _owner()
    draft = _draft_or_404(draft_id)
    if draft["status"] != "open":
        flash(_("草稿 #%(id)s 已部署或已丢弃，不能再编辑。", id=draft_id), "error")
        return redirect(url_for("modeler.drafts"))
    check = draft["check"]
    problems = check["problems"] if check else []
    data = {
        "id": draft_id, "revision": draft["revision"], "files": draft["files"], "problems": problems,
        "choices": _drafts().choices(principal(), draft_id), "csrf": generate_csrf(),
        "urls": {"file": url_for("modeler.file", draft_id=draft_id, name="x")[:-1],
                 "save": url_for("modeler.save", draft_id=draft_id),
                 "formProblems": url_for("modeler.check_form", draft_id=draft_id)},
        "texts": _texts(),
    }
    return render_template("modeler.html", draft=draft, data=data, problems=problems)


def _texts() -> dict[str, str]:
    from flask_babel import gettext
    return {"properties": gettext("属性"), "table": gettext("决策表"), "loading": gettext("正在载入……"),
            "cannot_open": gettext("无法打开："), "unsaved": gettext("%d 个文件有未保存的修改"),
            "nothing_to_save": gettext("没有未保存的修改。"), "saving": gettext("正在保存……"),
            "save_failed": gettext("保存失败"), "saved": gettext("已保存（第 %d 次保存）。"),
            "checking": gettext("正在检查：校验、运行场景测试、比较差异……（场景测试可能需要一两分钟）"), "find_choose": gettext("— 选择元素 —")}


@modeler.get("/<int:draft_id>/files/<path:name>")
@login_required
def file(draft_id: int, name: str):
    _owner()
    try:
        data = _drafts().file(principal(), draft_id, name)
    except NotFound:
        abort(404)
    response = Response(data, mimetype="text/xml" if name.endswith((".bpmn", ".dmn")) else "application/json")
    response.headers["Content-Disposition"] = "inline"
    return response


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object", {"body": "请求内容必须是 JSON 对象"})
    return body


@modeler.post("/<int:draft_id>/save")
@login_required
def save(draft_id: int):
    """Save edited files (JSON: {revision, files: {name: text}}); 409 when someone saved since."""
    _owner()
    try:
        body = _json_body()
        revision, files = body.get("revision"), body.get("files")
        if not isinstance(revision, int) or isinstance(revision, bool) or not isinstance(files, dict):
            raise Invalid("give revision (a number) and files (an object)", {"body": "缺少 revision 或 files"})
        new_revision = _drafts().save(principal(), draft_id, revision, files)
    except (Invalid, Conflict, NotFound, Forbidden) as exc:
        return jsonify({"error": exc.code, "message": exc.message, "fields": exc.fields}), exc.status
    return jsonify({"revision": new_revision})


@modeler.post("/<int:draft_id>/form-problems")
@login_required
def check_form(draft_id: int):
    """The problems of one form schema as the editor shows them (JSON: {text})."""
    _owner()
    _draft_or_404(draft_id)
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > MAX_FORM_TEXT:
        return jsonify({"error": "invalid", "message": "give the form's text (at most 2 MB)"}), 422
    return jsonify({"problems": form_problems(text)})


@modeler.post("/<int:draft_id>/check")
@login_required
def run_check(draft_id: int):
    _owner()
    try:
        _drafts().check(principal(), draft_id)
    except NotFound:
        abort(404)
    return redirect(url_for("modeler.check", draft_id=draft_id))


@modeler.get("/<int:draft_id>/check")
@login_required
def check(draft_id: int):
    _owner()
    draft = _draft_or_404(draft_id)
    return render_template("modeler_check.html", draft=draft, check=draft["check"], errors={})


@modeler.post("/<int:draft_id>/deploy")
@login_required
def deploy(draft_id: int):
    _owner()
    draft = _draft_or_404(draft_id)
    try:
        revision = int(request.form.get("revision", ""))
    except ValueError:
        revision = -1
    live = services().deployments.current()
    try:
        outcome = _drafts().deploy(principal(), draft_id, revision,
                                   accept_failed_scenarios=request.form.get("accept_failed") == "yes")
    except (Invalid, Conflict) as exc:
        errors = exc.fields or {"check": exc.message}
        return render_template("modeler_check.html", draft=_draft_or_404(draft_id), check=draft["check"],
                               errors=errors), exc.status
    except NotFound:
        abort(404)
    if outcome.reactivated:
        flash(_("草稿与已部署的 v%(v)s 内容相同：已把 v%(v)s 重新设为现行版本（此前是 v%(prev)s），没有新建版本。",
                v=outcome.version, prev=outcome.previous), "success")
    elif not outcome.created:
        flash(_("草稿与现行版本 v%(v)s 内容相同，没有变化。", v=outcome.version), "success")
    else:
        flash(_("已部署版本 v%(v)s。正在办理的案件仍在原版本上，可在下面选择迁移。", v=outcome.version), "success")
        return redirect(url_for("owners.migrate", source=live, target=outcome.version))
    return redirect(url_for("owners.versions"))


@modeler.post("/<int:draft_id>/discard")
@login_required
def discard(draft_id: int):
    _owner()
    try:
        _drafts().discard(principal(), draft_id)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("modeler.drafts"))
    flash(_("已丢弃草稿 #%(id)s。", id=draft_id), "success")
    return redirect(url_for("modeler.drafts"))
