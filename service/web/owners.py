"""Pages for procedure owners (role admin or owner): versions, diagrams and tables, diffs, upload and deploy,
moving open cases to a newer version, running the scenario tests."""
from __future__ import annotations

import re
from functools import lru_cache

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..deployments import deployed_dir, forms_dir, processes_dir
from ..errors import Forbidden, Invalid, NotFound
from . import services
from .pages import principal

owners = Blueprint("owners", __name__, url_prefix="/processes")


# dmn-js ships its "production" bundles with Inferno's development build inside (bpmn-io/dmn-js#965), which logs
# "Inferno is in development mode" and a warning about a minified development build on every page that loads it.
# The pages get that bundle without the announcement; if a later dmn-js no longer has it, it is served unchanged.
DMN_VIEWER = "dmn-js/dist/dmn-viewer.production.min.js"
_INFERNO_DEV_NOTICE = re.compile(
    r'console\.info\("Inferno is in development mode\."\),-1===\((\w+)\.name\|\|\1\.toString\(\)\)'
    r'\.indexOf\("testFn"\)&&\w+\("It looks like you\'re using a minified copy of the development build '
    r'of Inferno[^"]*"\)')


@lru_cache(maxsize=1)
def _dmn_viewer(mtime: float) -> bytes:
    from . import ROOT
    source = (ROOT / "node_modules" / DMN_VIEWER).read_text(encoding="utf-8")
    return _INFERNO_DEV_NOTICE.sub("void 0", source, count=1).encode("utf-8")


@owners.get("/dmn-viewer.js")
def dmn_viewer():
    """The DMN viewer for the version pages, without Inferno's development-mode console messages."""
    from . import ROOT
    path = ROOT / "node_modules" / DMN_VIEWER
    if not path.is_file():
        abort(404)
    response = Response(_dmn_viewer(path.stat().st_mtime), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _admin():
    if not principal().owns_processes:
        abort(403)


def _versions_page(problems=None, uploaded=None, status=200):
    owners_svc = services().owners
    return render_template("processes.html", versions=owners_svc.versions(principal()),
                           activations=owners_svc.activations(principal()), problems=problems,
                           uploaded=uploaded or []), status


def _flash_outcome(outcome, what: str) -> None:
    if outcome.created:
        flash(_("已部署版本 v%(v)s，现在是现行版本：新立案的案件按它办理。", v=outcome.version), "success")
    elif outcome.reactivated:
        flash(_("%(what)s与已部署的 v%(v)s 内容相同：已把 v%(v)s 重新设为现行版本（此前是 v%(prev)s），没有新建版本。",
                what=what, v=outcome.version, prev=outcome.previous), "success")
    else:
        flash(_("%(what)s与现行版本 v%(v)s 内容相同，没有变化。", what=what, v=outcome.version), "success")


@owners.get("")
@login_required
def versions():
    _admin()
    return _versions_page()


@owners.post("/upload")
@login_required
def upload():
    _admin()
    uploads = {f.filename: f.read() for f in request.files.getlist("files") if f and f.filename}
    try:
        outcome = services().owners.upload_outcome(principal(), uploads)
    except Invalid as exc:
        return _versions_page(exc.fields, sorted(uploads), 422)
    _flash_outcome(outcome, _("上传后的文件"))
    return redirect(url_for("owners.versions"))


@owners.post("/deploy")
@login_required
def deploy_folder():
    _admin()
    try:
        outcome = services().owners.deploy_folder(principal(), processes_dir(), forms_dir())
    except Invalid as exc:
        return _versions_page(exc.fields, [], 422)
    _flash_outcome(outcome, _("processes/ 目录中的文件"))
    return redirect(url_for("owners.versions"))


@owners.post("/<int:version>/activate")
@login_required
def activate(version: int):
    """Make a version the live one again (roll-back); recorded with who did it."""
    _admin()
    try:
        previous = services().owners.activate(principal(), version)
    except NotFound:
        abort(404)
    except Invalid as exc:
        return _versions_page(exc.fields, [], 422)
    if previous is None:
        flash(_("v%(v)s 已经是现行版本。", v=version), "success")
    else:
        flash(_("已把 v%(v)s 设为现行版本（此前是 v%(prev)s）：新立案的案件按 v%(v)s 办理，进行中的案件仍按各自的版本办理。",
                v=version, prev=previous), "success")
    return redirect(url_for("owners.versions"))


@owners.get("/<int:version>")
@login_required
def version(version: int):
    _admin()
    try:
        files = services().owners.files(principal(), version)
    except NotFound:
        abort(404)
    return render_template("process_version.html", version=version, files=sorted(files))


@owners.get("/<int:version>/files/<path:name>")
@login_required
def file(version: int, name: str):
    _admin()
    try:
        files = services().owners.files(principal(), version)
    except NotFound:
        abort(404)
    if name not in files:
        abort(404)
    return Response(files[name], mimetype="text/xml" if name.endswith((".bpmn", ".dmn")) else "application/json")


@owners.get("/diff")
@login_required
def diff():
    _admin()
    try:
        old, new = int(request.args.get("old", "")), int(request.args.get("new", ""))
        result = services().owners.diff(principal(), old, new)
    except (ValueError, NotFound):
        abort(404)
    return render_template("process_diff.html", d=result)


@owners.route("/migrate", methods=["GET", "POST"])
@login_required
def migrate():
    _admin()
    try:
        source, target = int(request.values.get("source", "")), int(request.values.get("target", ""))
    except ValueError:
        abort(404)
    deadlines = request.values.get("deadlines", "keep")
    if deadlines not in DEADLINE_CHOICES:
        deadlines = "keep"
    cases = services().cases
    result = None
    try:
        if request.method == "POST":
            chosen = [int(c) for c in request.form.getlist("case") if c.isdigit()]
            result = cases.migrate(principal(), chosen, target, recompute=deadlines == "recompute")
            if result["moved"]:
                flash(_("已将 %(n)s 件案件迁移到 v%(v)s。", n=len(result["moved"]), v=target), "success")
        check = cases.migration_check(principal(), source, target)
    except (Forbidden, NotFound):
        abort(404)
    return render_template("process_migrate.html", source=source, target=target, check=check, result=result,
                           deadlines=deadlines)


DEADLINE_CHOICES = ("keep", "recompute")


@owners.post("/scenarios")
@login_required
def scenarios():
    _admin()
    from ..scenarios import ScenarioFileError, load_scenarios, run_all
    version = int(request.form.get("version") or services().deployments.current())
    try:
        engine = services().deployments.engine(version)
        results = run_all(engine, load_scenarios([deployed_dir("scenarios", "ACCOUNTABILITY_SCENARIOS")]))
    except (ScenarioFileError, NotFound) as exc:
        flash(f"无法运行场景测试：{exc}", "error")
        return redirect(url_for("owners.versions"))
    return render_template("process_scenarios.html", version=version, results=results)

