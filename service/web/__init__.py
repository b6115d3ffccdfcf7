"""The Flask application: the JSON API now, the staff inbox next."""
from __future__ import annotations

from dataclasses import dataclass

import datetime as dt
import os
import secrets
from pathlib import Path

from flask import Flask, Response, jsonify, render_template, request, send_from_directory, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

from ..cases import CaseService
from ..deployments import Deployments, VersionUnavailable
from ..owners import OwnerService
from ..reviews import ReviewService
from ..reports import ReportService
from ..errors import ServiceError, TooManyAttempts
from ..logins import LoginService
from ..mail import Mailer
from ..notifications import NotificationService
from ..reminders import ReminderService
from .timefmt import local_date, local_time
from ..store.db import Database
from ..store.models import utcnow

from ..auth import Principal

from . import ratelimit  # noqa: E402,F401  (registers the accountability-db:// storage)

# the counters live in the database (every server process counts in the same place), or in Redis where
# RATELIMIT_STORAGE_URI says so
limiter = Limiter(key_func=get_remote_address, strategy="fixed-window")
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
ROOT = Path(__file__).resolve().parent.parent.parent
# the browser assets the pages use, served from node_modules (installed by `npm ci`)
VENDOR = {
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js", "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js/dist/assets/bpmn-js.css", "bpmn-js/dist/assets/bpmn-font/css/bpmn.css",
    "dmn-js/dist/dmn-viewer.production.min.js", "dmn-js/dist/assets/dmn-js-shared.css",
    "dmn-js/dist/assets/dmn-js-drd.css", "dmn-js/dist/assets/dmn-js-decision-table.css",
    "dmn-js/dist/assets/dmn-js-literal-expression.css", "dmn-js/dist/assets/diagram-js.css",
    "dmn-js/dist/assets/dmn-font/css/dmn.css", "chart.js/dist/chart.umd.min.js",
}
VENDOR_DIRS = ("bpmn-js/dist/assets/bpmn-font/font/", "dmn-js/dist/assets/dmn-font/font/")


class BoundedInt(IntegerConverter):
    """<int:...> in a path: a whole number an INTEGER column can hold; anything larger matches no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        from .inputs import INT_MAX
        super().__init__(map, fixed_digits, min, INT_MAX if max is None else max, signed)


class WebUser(UserMixin):
    """The logged-in person of a browser session."""

    def __init__(self, principal: Principal):
        self.principal = principal

    def get_id(self) -> str:
        return self.principal.username

    @property
    def username(self) -> str:
        return self.principal.username


def _secret_key() -> str:
    """$SECRET_KEY, else one generated once and kept in instance/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path.cwd() / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Services:
    db: Database
    deployments: Deployments
    cases: CaseService
    reviews: ReviewService
    owners: OwnerService
    logins: LoginService
    reports: ReportService
    reminders: ReminderService
    notifications: NotificationService


def build_services(database_url: str | None = None, *, clock=None, mailer: Mailer | None = None) -> Services:
    """Every service on one database. ``clock`` (a function giving the aware current time) is the time the case
    service, reminders and notifications go by (tests pass their own); ``mailer`` defaults to the SMTP settings in
    the environment (none: no mail)."""
    db = Database(database_url)
    deployments = Deployments(db)
    clock = clock or utcnow
    return Services(db, deployments, CaseService(db, deployments, clock), ReviewService(db, deployments),
                    OwnerService(db, deployments), LoginService(db), ReportService(db, deployments),
                    ReminderService(db, clock, mailer or Mailer.from_env(), os.environ.get("ACCOUNTABILITY_BASE_URL", "")),
                    NotificationService(db, clock))


def create_app(database_url: str | None = None, *, services: Services | None = None,
               config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    app.config.update(
        COMPLAINT_RATE_LIMIT="5 per minute;30 per day", SECRET_KEY=_secret_key(),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=30), SESSION_REFRESH_EACH_REQUEST=True,
        # evidence uploads: 60 MB of files per submission (cases.tasks.MAX_UPLOAD_BYTES) and the form's fields
        WTF_CSRF_TIME_LIMIT=None, MAX_CONTENT_LENGTH=61 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="zh_CN", BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"))
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.converters["int"] = BoundedInt  # before any route is added
    services = services or build_services(database_url)
    app.extensions["accountability"] = services
    # the limiter object is shared by every app in a process: each app says whether it limits (else one app
    # created with RATELIMIT_ENABLED=False would switch the limits off for all that follow)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("RATELIMIT_STORAGE_URI") or
                          f"{ratelimit.SCHEME}://")
    limiter.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "pages.login"
    login_manager.login_message = None
    from .i18n import compile_catalogs, select_locale
    compile_catalogs(ROOT / "translations")
    babel.init_app(app, locale_selector=select_locale)

    @login_manager.user_loader
    def load_user(username: str):
        from flask import current_app

        from ..store.repository import Store
        # the login manager is shared by every app in the process: each request reads its own app's database
        services = current_app.extensions["accountability"]
        if not services.logins.session_user(session.get("sid"), username):
            return None  # logged out (on this or another tab), or idle too long: the cookie no longer works
        with services.db.session() as s:
            user = Store(s).user(username)
            if user is None or not user.active:
                return None
            return WebUser(Principal(user.username, frozenset(user.roles), user.display_name, user.unit))

    numerals = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五",
                "十六", "十七", "十八", "十九", "二十"]
    app.jinja_env.filters["cn"] = lambda n: numerals[n] if isinstance(n, int) and 0 < n < len(numerals) else n
    app.jinja_env.filters["local_time"] = local_time  # stored UTC → office time (Asia/Shanghai unless configured)
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["dict_without"] = lambda d, *keys: {k: v for k, v in d.items() if k not in keys}

    @app.context_processor
    def chrome():
        from .i18n import current_language
        return {"lang": current_language(), "languages": {"zh_CN": "中文", "en": "English"}}

    @app.get("/vendor/<path:filename>")
    def vendor(filename: str):
        if filename not in VENDOR and not any(filename.startswith(d) for d in VENDOR_DIRS):
            raise NotFound()
        response = send_from_directory(ROOT / "node_modules", filename, max_age=86400)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    from .api import api
    from .api_records import api_records
    from .notifications import notifications
    from .pages import pages
    from .owners import owners
    from .reviewers import reviewers
    from .modeler import modeler
    from .reports import reports
    app.register_blueprint(api)
    app.register_blueprint(api_records)
    app.register_blueprint(reports)
    app.register_blueprint(reviewers)
    app.register_blueprint(owners)
    app.register_blueprint(modeler)  # the in-browser modeler and its drafts (/processes/edit)
    csrf.exempt(api)  # the API authenticates every request with HTTP Basic: no cookies, no CSRF
    csrf.exempt(api_records)
    app.register_blueprint(pages)
    app.register_blueprint(notifications)

    from .inputs import BadInput, TooLarge, bad_text, check_request_text, task_id as valid_task_id

    @app.before_request
    def clean_input():
        check_request_text()  # NUL bytes, lone surrogates, numbers out of range: 422 before any view runs

    @app.url_value_preprocessor
    def clean_path(endpoint, values):
        if any(isinstance(v, str) and bad_text(v) for v in (values or {}).values()):
            raise NotFound()  # a path with a NUL byte or a lone surrogate names nothing
        if values and "task_id" in values:
            try:
                valid_task_id(values["task_id"])
            except ServiceError:
                raise NotFound() from None

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if isinstance(exc, (BadInput, TooLarge, VersionUnavailable)) and not request.path.startswith("/api/"):
            return render_template("error.html", code=exc.status, reason=None, message=exc.message,
                                   fields=exc.fields), exc.status
        body = {"error": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        response = jsonify(body)
        response.status_code = exc.status
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="accountability", charset="UTF-8"'
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_template("error.html", code=400, reason="csrf"), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            response = jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description})
            response.status_code = exc.code or 500
            return response
        return render_template("error.html", code=exc.code, reason=None), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # never a stack trace to the client
        if isinstance(exc, HTTPException):
            return exc
        error_id = log_unexpected(app, exc)
        if request.path.startswith("/api/"):
            return jsonify({"error": "internal", "error_id": error_id,
                            "message": f"服务器内部错误，请稍后重试；问题已记录（错误编号 {error_id}）。"}), 500
        return render_template("error.html", code=500, reason=None, error_id=error_id), 500

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith(("/vendor/", "/static/")):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
        return response

    return app


def log_unexpected(app: Flask, exc: BaseException) -> str:
    """Log an unexpected error under a short random id and return the id. The line has the exception's type and
    where it happened, never its message: a database error's message carries the statement's parameters (a
    reporter's name, say)."""
    import traceback
    error_id = secrets.token_hex(4)
    frames = "".join(traceback.format_tb(exc.__traceback__))
    app.logger.error("unexpected error %s: %s in %s %s\n%s", error_id, type(exc).__name__, request.method,
                     request.path, frames)
    return error_id


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ tab or CR gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(filename: str, header: list[str], rows) -> Response:
    """A CSV download that Excel opens with the right encoding (UTF-8 with BOM); no cell is a formula."""
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def page_arg(name: str = "page") -> int:
    """The ?page= (or ?NAME=) number of a listing, 1 when absent or 0; a value that is not a whole number an
    INTEGER holds is refused (422)."""
    from .inputs import optional_number
    return max(optional_number(name, 1, minimum=0) or 1, 1)


def services() -> Services:
    from flask import current_app
    return current_app.extensions["accountability"]
