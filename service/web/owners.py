"""Pages for procedure owners (role admin): versions, diagrams and tables, diffs, upload and deploy,
moving open cases to a newer version, running the scenario tests."""
from __future__ import annotations

import re
from functools import lru_cache

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
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
    if not principal().has("admin"):
        abort(403)


@owners.get("")
@login_required
def versions():
    _admin()
    items = services().owners.versions(principal())
    return render_template("processes.html", versions=items, problems=None)


@owners.post("/upload")
@login_required
def upload():
    _admin()
    uploads = {f.filename: f.read() for f in request.files.getlist("files") if f and f.filename}
    try:
        version, created = services().owners.upload(principal(), uploads)
    except Invalid as exc:
        items = services().owners.versions(principal())
        return render_template("processes.html", versions=items, problems=exc.fields,
                               uploaded=sorted(uploads)), 422
    flash(f"已部署版本 v{version}。" if created else f"文件没有变化，现行版本仍是 v{version}。", "success")
    return redirect(url_for("owners.versions"))


@owners.post("/deploy")
@login_required
def deploy_folder():
    _admin()
    try:
        version, created = services().owners.deploy_folder(principal(), processes_dir(), forms_dir())
    except Invalid as exc:
        items = services().owners.versions(principal())
        return render_template("processes.html", versions=items, problems=exc.fields, uploaded=[]), 422
    flash(f"已部署版本 v{version}。" if created else f"processes/ 没有变化，现行版本仍是 v{version}。", "success")
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
    cases = services().cases
    result = None
    try:
        if request.method == "POST":
            chosen = [int(c) for c in request.form.getlist("case") if c.isdigit()]
            result = cases.migrate(principal(), chosen, target)
            if result["moved"]:
                flash(f"已将 {len(result['moved'])} 件案件迁移到 v{target}。", "success")
        check = cases.migration_check(principal(), source, target)
    except (Forbidden, NotFound):
        abort(404)
    return render_template("process_migrate.html", source=source, target=target, check=check, result=result)


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

