"""The bell in the page header (unread count), the notifications page, marking notifications read."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import NotFound
from . import page_arg, services

notifications = Blueprint("notifications", __name__)


@notifications.app_context_processor
def bell():
    """The unread count for the bell on every page of a logged-in person."""
    if not getattr(current_user, "is_authenticated", False):
        return {}
    return {"unread_notifications": services().notifications.unread(current_user.principal)}


@notifications.get("/notifications")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    result = services().notifications.list(current_user.principal, unread_only=unread_only, page=page_arg(),
                                           per_page=50)
    from .pages import _local_time, _page_url, officers
    return render_template("notifications.html", page=result, unread_only=unread_only, local_time=_local_time,
                           people=officers(), page_url=_page_url("notifications.index"))


@notifications.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    try:
        services().notifications.mark_read(current_user.principal, notification_id)
    except NotFound:
        abort(404)  # someone else's, or none: the error page
    return redirect(_back())


@notifications.post("/notifications/read-all")
@login_required
def read_all():
    n = services().notifications.mark_read(current_user.principal)
    flash(_("已将 %(n)s 条通知标为已读。", n=n), "ok")
    return redirect(_back())


def _back() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/notifications") and not target.startswith("//"):
        return target
    return url_for("notifications.index")
