"""The Flask application: the JSON API now, the staff inbox next."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from ..cases import CaseService
from ..deployments import Deployments
from ..errors import ServiceError
from ..store.db import Database

limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", strategy="fixed-window")


@dataclass
class Services:
    db: Database
    deployments: Deployments
    cases: CaseService


def build_services(database_url: str | None = None) -> Services:
    db = Database(database_url)
    deployments = Deployments(db)
    return Services(db, deployments, CaseService(db, deployments))


def create_app(database_url: str | None = None, *, services: Services | None = None,
               config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../../templates")
    app.config.update(COMPLAINT_RATE_LIMIT="5 per minute;30 per day", JSON_SORT_KEYS=False)
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    services = services or build_services(database_url)
    app.extensions["accountability"] = services
    limiter.init_app(app)

    from .api import api
    app.register_blueprint(api)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        body = {"error": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        response = jsonify(body)
        response.status_code = exc.status
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="accountability", charset="UTF-8"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            response = jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description})
            response.status_code = exc.code or 500
            return response
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # never a stack trace to the client
        app.logger.exception("unexpected error")
        if isinstance(exc, HTTPException):
            return exc
        return jsonify({"error": "internal", "message": "服务器内部错误，请稍后重试；问题已记录。"}), 500

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def services() -> Services:
    from flask import current_app
    return current_app.extensions["accountability"]
