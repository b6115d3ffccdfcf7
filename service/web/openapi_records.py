"""The OpenAPI description of documents, notifications and reports (service/web/api_records.py), merged into
service/web/openapi.py's document."""
from __future__ import annotations

from typing import Any

from .openapi import ERRORS, INT_MAX, PAGE_FIELDS, PAGING, YEAR, _json, _query, _ref

ID = {"type": "integer", "minimum": 1, "maximum": INT_MAX}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": ID}
DOCUMENT_ID = {"name": "document_id", "in": "path", "required": True, "schema": ID}
FORMAT = {"name": "format", "in": "path", "required": True, "schema": {"enum": ["pdf", "docx"]},
          "description": "pdf or docx; anything else is 422"}
FILTERS = [_query("year", YEAR, "calendar year of the act (default: this year)"),
           _query("channel", {"type": "string"}, "intake channel (one of GET /reports/filters' channels)"),
           _query("unit", {"type": "string", "maxLength": 100}, "a respondent's unit"),
           _query("from", {"type": "string", "format": "date"}, "received by the office on or after (YYYY-MM-DD)"),
           _query("to", {"type": "string", "format": "date"}, "received on or before; not before from")]
REPORTS = "Office, leading group and reviewers (as /reports); anyone else 403. "
ROW = {"type": "object", "required": ["key", "label", "count"],
       "properties": {"key": {}, "label": {"type": "string"}, "count": {"type": "integer"}}}
RATE = {"type": ["number", "null"], "description": "on time ÷ (on time + late + open past the limit); null: none due"}


def _rows(description: str) -> dict[str, Any]:
    return {"type": "array", "items": ROW, "description": description}


PATHS: dict[str, Any] = {
    "/cases/{case_id}/documents": {
        "get": {
            "summary": "The documents of a case the caller may read: staff who see the case all of them; a respondent "
                       "only those addressed to them, their 处理决定书 once served. Not paged (a few per respondent)",
            "parameters": [CASE_ID],
            "responses": {"200": _json(_ref("DocumentList"), "The documents, oldest first"), **ERRORS},
        }
    },
    "/cases/{case_id}/documents/{document_id}": {
        "get": {
            "summary": "One document's details and download links (404 for one the caller may not read)",
            "parameters": [CASE_ID, DOCUMENT_ID],
            "responses": {"200": _json(_ref("Document"), "The document"), **ERRORS},
        }
    },
    "/cases/{case_id}/documents/{document_id}.{format}": {
        "get": {
            "summary": "The document as PDF or Word (Content-Disposition names the file: number, title, person); "
                       "404 for one the caller may not read, whether it exists or not",
            "parameters": [CASE_ID, DOCUMENT_ID, FORMAT],
            "responses": {"200": {"description": "The file", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                    {"schema": {"type": "string", "format": "binary"}}}},
                "422": _json(_ref("Error"), "A format other than pdf or docx, or a document whose rendering failed"), **ERRORS},
        }
    },
    "/notifications": {
        "get": {
            "summary": "The caller's own notifications (reminders, escalations), newest first, with the unread count",
            "parameters": [_query("unread", {"type": "boolean"}, "only unread ones (true or false)"), *PAGING],
            "responses": {"200": _json(_ref("NotificationPage"), "A page of notifications"), **ERRORS},
        }
    },
    "/notifications/{notification_id}/read": {
        "post": {
            "summary": "Mark one of the caller's notifications read (again: no change); someone else's is 404",
            "parameters": [{"name": "notification_id", "in": "path", "required": True, "schema": ID}],
            "responses": {"200": _json({"type": "object", "required": ["id", "read", "unread"], "properties": {
                "id": {"type": "integer"}, "read": {"const": True},
                "unread": {"type": "integer", "description": "the caller's unread notifications now"}}}, "Read"),
                **ERRORS},
        }
    },
    "/notifications/read-all": {
        "post": {
            "summary": "Mark all of the caller's notifications read",
            "responses": {"200": _json({"type": "object", "required": ["marked", "unread"], "properties": {
                "marked": {"type": "integer", "description": "how many were unread"},
                "unread": {"type": "integer"}}}, "All read"), **ERRORS},
        }
    },
    "/reports/filters": {
        "get": {
            "summary": REPORTS + "What the report filters offer: years with cases (and this year), channels, units",
            "responses": {"200": _json(_ref("ReportChoices"), "The choices"), **ERRORS},
        }
    },
    "/reports/statistics": {
        "get": {
            "summary": REPORTS + "Cases by channel, Art. 5 ground, status, step and age; persons by outcome and "
                                 "Art. 12 tier. Channel, unit and dates filter these; a wrong filter is 422 naming it",
            "parameters": FILTERS,
            "responses": {"200": _json(_ref("Statistics"), "The statistics"), **ERRORS},
        }
    },
    "/reports/compliance": {
        "get": {
            "summary": REPORTS + "Time-limit compliance per step of the office and the leading group (the same "
                                 "filters as /reports/statistics)",
            "parameters": FILTERS,
            "responses": {"200": _json(_ref("Compliance"), "Compliance"), **ERRORS},
        }
    },
    "/reports/register": {
        "get": {
            "summary": REPORTS + "Art. 15 register of a year (the year the decision was served)",
            "parameters": [_query("year", YEAR, "calendar year (default: this year)")],
            "responses": {"200": _json(_ref("Register"), "The register"), **ERRORS},
        }
    },
    "/reports/watch-list": {
        "get": {
            "summary": REPORTS + "Art. 11(3) watch list: persons whose established errors in acts of the year are one "
                                 "short of the count that aggravates, or at it. Reviewers get the count only "
                                 "(hidden: true, persons empty)",
            "parameters": [_query("year", YEAR, "calendar year of the acts (default: this year)")],
            "responses": {"200": _json(_ref("WatchList"), "The watch list"), **ERRORS},
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Document": {"type": "object", "required": ["id", "case_id", "kind", "title", "number", "person", "issued_on",
                                                "links"], "properties": {
        "id": {"type": "integer"}, "case_id": {"type": "integer"},
        "kind": {"type": "string", "description": "registration_notice (立案通知书), hearing_notice (陈述申辩告知书), "
                                                  "decision (处理决定书), review_decision (复查决定书)"},
        "title": {"type": "string"}, "number": {"type": "string", "description": "文号"},
        "person": {"type": "string", "description": "the respondent it is addressed to"},
        "ref": {"type": "string", "description": "a hearing notice's round"},
        "issued_on": {"type": "string", "format": "date"}, "created_at": {"type": "string", "format": "date-time"},
        "served_on": {"type": ["string", "null"], "description": "a decision: when it was served on the person"},
        "template_hash": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "ready", "failed"],
                  "description": "pending: rendered a few seconds after its step (a download renders it at once); "
                                 "failed: rendering failed after its tries (the office sees why in error)"},
        "error": {"type": ["string", "null"], "description": "why rendering failed (office only)"},
        "links": {"type": "object", "required": ["pdf", "docx"], "properties": {
            "pdf": {"type": "string"}, "docx": {"type": "string"}}, "description": "download paths"}}},
    "DocumentList": {"type": "object", "required": ["case_id", "items"], "properties": {
        "case_id": {"type": "integer"}, "items": {"type": "array", "items": _ref("Document")}}},
    "Notification": {"type": "object", "required": ["id", "kind", "title", "created_at", "read"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "description": "reminder or escalation"},
        "case_id": {"type": ["integer", "null"]}, "task_id": {"type": ["string", "null"]},
        "title": {"type": "string", "description": "the task's title"},
        "person": {"type": ["string", "null"], "description": "the respondent the task is about"},
        "due": {"type": ["string", "null"], "format": "date-time"}, "created_at": {"type": "string"},
        "read": {"type": "boolean"}}},
    "NotificationPage": {"type": "object", "required": ["items", "unread", "next_cursor"], "properties": {
        "items": {"type": "array", "items": _ref("Notification")}, **PAGE_FIELDS,
        "unread": {"type": "integer", "description": "all of the caller's unread notifications"}}},
    "ReportFilters": {"type": "object", "properties": {
        "year": {"type": "integer"}, "channel": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]},
        "from": {"type": ["string", "null"], "format": "date"}, "to": {"type": ["string", "null"], "format": "date"}}},
    "ReportChoices": {"type": "object", "properties": {
        "years": {"type": "array", "items": {"type": "integer"}},
        "channels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "key: label"},
        "units": {"type": "array", "items": {"type": "string"}}}},
    "Statistics": {"type": "object", "required": ["filters", "totals"], "properties": {
        "filters": _ref("ReportFilters"),
        "totals": {"type": "object", "properties": {"cases": {"type": "integer"}, "open": {"type": "integer"},
                                                     "closed": {"type": "integer"},
                                                     "persons_liable": {"type": "integer"}}},
        "channel": _rows("cases by intake channel"), "ground": _rows("cases by Art. 5 item (a case under each)"),
        "status": _rows("cases open, and closed by how they ended"), "outcome": _rows("persons by their outcome"),
        "tier": {"type": "array", "items": {"allOf": [ROW, {"type": "object", "properties": {
            "aggravated": {"type": "integer"}}}]}, "description": "persons held liable by Art. 12 tier"},
        "step": _rows("open cases by the step they wait in"), "age": _rows("open cases by days since received")}},
    "Compliance": {"type": "object", "required": ["filters", "deadlines", "deadline_totals"], "properties": {
        "filters": _ref("ReportFilters"),
        "deadlines": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "label": {"type": "string"}, "on_time": {"type": "integer"},
            "late": {"type": "integer"}, "overdue": {"type": "integer", "description": "open past the limit"},
            "pending": {"type": "integer", "description": "open within the limit"}, "rate": RATE}}},
        "deadline_totals": {"type": "object", "properties": {
            "on_time": {"type": "integer"}, "late": {"type": "integer"}, "overdue": {"type": "integer"},
            "pending": {"type": "integer"}, "rate": RATE}}}},
    "RegisterEntry": {"type": "object", "properties": {
        "year": {"type": "integer"}, "kind": {"enum": ["person", "unit"]}, "name": {"type": "string"},
        "unit": {"type": ["string", "null"], "description": "a person's own unit"}, "case_id": {"type": "integer"}}},
    "Register": {"type": "object", "required": ["year", "items"], "properties": {
        "year": {"type": "integer"}, "items": {"type": "array", "items": _ref("RegisterEntry")}}},
    "WatchList": {"type": "object", "required": ["year", "threshold", "hidden", "persons", "count"], "properties": {
        "year": {"type": "integer"},
        "threshold": {"type": ["integer", "null"], "description": "the yearly count that aggravates, read from the "
                                                                 "deployed aggravation table; null: none"},
        "at_least": {"type": "integer", "description": "the smallest count listed (threshold − 1)"},
        "quote": {"type": "string", "description": "Art. 11(3) in the regulation's words"},
        "hidden": {"type": "boolean", "description": "true for reviewers: the count without names"},
        "count": {"type": "integer", "description": "how many persons are on the list"},
        "persons": {"type": "array", "items": {"type": "object", "properties": {
            "person": {"type": "string"}, "count": {"type": "integer"}, "reached": {"type": "boolean"},
            "units": {"type": "array", "items": {"type": "string"}},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "case_id": {"type": "integer"}, "role": {"type": "string"}, "unit": {"type": ["string", "null"]},
                "act_date": {"type": ["string", "null"]}, "measure": {"type": ["string", "null"]}}}}}}}}},
}
