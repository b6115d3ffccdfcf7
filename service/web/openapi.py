"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json)."""
from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Malformed request (bad JSON, bad query parameter)"),
    "401": _json(_ref("Error"), "Missing or wrong credentials"),
    "403": _json(_ref("Error"), "Not allowed for this user"),
    "404": _json(_ref("Error"), "No such resource, or not visible to this user"),
    "413": _json(_ref("Error"), "The JSON body is larger than 512 KB"),
    "422": _json(_ref("Error"), "A value does not fit: a number out of range, text with a NUL byte or an invalid "
                                "Unicode character, JSON nested more than 32 levels; one message per field"),
}
INT_MAX = 2**31 - 1
TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
PAGING = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX,
                                                     "default": 1}},
          {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX,
                                                         "default": 50},
           "description": "at most 200 tasks or 500 cases are returned per page"},
          {"name": "cursor", "in": "query", "schema": {"type": "string"},
           "description": "the next_cursor of the page before: the page after it, however many rows were added "
                          "meanwhile (no row twice, none left out); page is then ignored"}]
PAGE_FIELDS = {"total": {"type": "integer", "description": "how many there are, counted up to 1,000; when "
                                                          "total_capped is true there are more than that"},
               "page": {"type": "integer"}, "per_page": {"type": "integer"},
               "total_capped": {"type": "boolean", "description": "the count stopped at 1,000 (\"1000+\")"},
               "next_cursor": {"type": ["string", "null"],
                               "description": "pass as cursor for the next page; null on the last page"}}
YEAR = {"type": "integer", "minimum": 1900, "maximum": 9999}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "明山区行政执法过错责任追究 API",
        "version": "1.0.0",
        "description": "Cases, tasks and decisions of the Mingshan District enforcement-error accountability "
                       "procedure (Articles 18-20). Every call but /complaints and this document needs HTTP Basic "
                       "credentials. The reporter of a public complaint is returned only to the office.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"basic": []}],
    "paths": {
        "/cases": {
            "post": {
                "summary": "Intake: record a case from one of the four channels (Art. 19-20)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Intake")}}},
                "responses": {"201": _json(_ref("Created"), "The case was started"),
                              "422": _json(_ref("Error"), "The intake does not fit its form"), **ERRORS},
            },
            "get": {
                "summary": "Cases visible to the caller",
                "parameters": [_query("status", {"enum": ["open", "closed"]}, "open or closed"),
                               _query("channel", {"type": "string"}, "intake channel"),
                               _query("year", YEAR, "calendar year of the act"),
                               _query("unit", {"type": "string"}, "the subject's unit"),
                               _query("subject", {"type": "string"}, "username of the subject"),
                               _query("q", {"type": "string"}, "search in summary, subject and unit"), *PAGING],
                "responses": {"200": _json(_ref("CasePage"), "A page of cases"), **ERRORS},
            },
        },
        "/cases/{case_id}": {
            "get": {
                "summary": "A case: status, tasks, respondents, history, decision traces and each person's outcome "
                           "(as the caller may see it: a respondent only their own, once served)",
                "parameters": [{"name": "case_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX}}],
                "responses": {"200": _json(_ref("CaseDetail"), "The case"), **ERRORS},
            }
        },
        "/complaints": {
            "post": {
                "summary": "Public complaint without login (rate-limited); returns a receipt code",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Complaint")}}},
                "responses": {"201": _json({"type": "object", "properties": {"receipt_code": {"type": "string"},
                                                                               "message": {"type": "string"}}},
                                           "The complaint was received"),
                              "400": ERRORS["400"], "413": ERRORS["413"],
                              "422": _json(_ref("Error"), "The complaint has errors (one message per field), or "
                                                          "a text has a NUL byte or an invalid Unicode character"),
                              "429": _json(_ref("Error"), "Too many complaints from this address; try later")},
            }
        },
        "/tasks": {
            "get": {
                "summary": "The caller's open tasks (read from the task index)",
                "parameters": [_query("name", {"type": "string"}, "task id in the diagram, e.g. Task_register"),
                               _query("case_id", {"type": "integer", "minimum": 1, "maximum": INT_MAX},
                                      "only this case"),
                               _query("channel", {"type": "string"}, "intake channel of the case"),
                               _query("role", {"enum": ["office", "leading_group"]}, "candidate group"),
                               _query("claimed", {"enum": ["me", "none"]}, "claimed by me, or by no one"),
                               _query("overdue", {"type": "boolean"}, "only overdue tasks"),
                               _query("sort", {"enum": ["due", "created", "case"]}, "order"), *PAGING],
                "responses": {"200": _json(_ref("TaskPage"), "A page of tasks"), **ERRORS},
            }
        },
        "/tasks/{task_id}": {
            "get": {
                "summary": "A task with its form's JSON Schema, the current values and the case in brief",
                "parameters": [TASK_ID],
                "responses": {"200": _json(_ref("TaskDetail"), "The task"), **ERRORS},
            }
        },
        "/tasks/{task_id}/claim": {
            "post": {"summary": "Claim a task of one of your roles", "parameters": [TASK_ID],
                     "responses": {"200": _json(_ref("Claim"), "Claimed"),
                                   "409": _json(_ref("Error"), "Claimed by someone else or no longer open"),
                                   **ERRORS}}
        },
        "/tasks/{task_id}/release": {
            "post": {"summary": "Release a task you claimed", "parameters": [TASK_ID],
                     "responses": {"200": _json(_ref("Claim"), "Released"),
                                   "409": _json(_ref("Error"), "Not claimed by you"), **ERRORS}}
        },
        "/tasks/{task_id}/complete": {
            "post": {
                "summary": "Complete a task with its form data",
                "parameters": [TASK_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "object", "description": "the form fields"}}}}}},
                "responses": {"200": _json(_ref("Completed"), "Completed; the case moved on"),
                              "409": _json(_ref("Error"), "No longer open, claimed by someone else, or changed "
                                                          "concurrently"),
                              "422": _json(_ref("Error"), "The data does not fit the form: one message per field"),
                              **ERRORS},
            }
        },
        "/decisions/{decision_id}/evaluate": {
            "post": {
                "summary": "Evaluate a decision table of the deployed version (for reviewers)",
                "parameters": [{"name": "decision_id", "in": "path", "required": True,
                                "schema": {"type": "string"}, "example": "sanction"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"inputs": {"type": "object"}},
                    "example": {"inputs": {"severity": "serious", "aggravated": True}}}}}},
                "responses": {"200": _json(_ref("Evaluation"), "Outputs and trace"),
                              "422": _json(_ref("Error"), "Missing or mistyped inputs"), **ERRORS},
            }
        },
        "/disqualifications": {
            "get": {
                "summary": "Art. 15 register: persons and units disqualified from awards and promotion, per year",
                "parameters": [_query("year", YEAR, "calendar year")],
                "responses": {"200": _json({"type": "object", "properties": {"items": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "year": {"type": "integer"}, "kind": {"enum": ["person", "unit"]}, "name": {"type": "string"},
                        "unit": {"type": ["string", "null"], "description": "a person's own unit"},
                        "case_id": {"type": "integer"}}}}}},
                                           "The register"), **ERRORS},
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
    "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "one message per field"}}},
            "Created": {"type": "object", "properties": {"id": {"type": "integer"}, "status": {"type": "string"},
                                                         "stage": {"type": "string"}}},
            "Intake": {"type": "object", "required": ["channel", "summary", "act_date"], "properties": {
                "channel": {"enum": ["self_report", "public_complaint", "superior_referral", "inspection"]},
                "subject": {"type": "string", "description": "username of the officer concerned"},
                "unit": {"type": "string"}, "grounds": {"type": "array", "items": {"type": "integer"}},
                "summary": {"type": "string"}, "act_date": {"type": "string", "format": "date"},
                "officer": {"type": "string", "description": "public complaints: the officer in words"},
                "reporter": {"type": "object", "properties": {"name": {"type": "string"},
                                                              "contact": {"type": "string"}}}}},
            "Complaint": {"type": "object", "required": ["officer", "summary", "act_date"], "properties": {
                "officer": {"type": "string"}, "unit": {"type": "string"}, "summary": {"type": "string"},
                "act_date": {"type": "string", "format": "date"},
                "reporter": {"type": "object", "properties": {"name": {"type": "string"},
                                                              "contact": {"type": "string"}}}}},
            "Task": {"type": "object", "required": ["id", "case_id", "name", "title", "role", "assignee", "due"],
                     "properties": {"id": {"type": "string"}, "case_id": {"type": "integer"},
                                    "name": {"type": "string"}, "title": {"type": "string"},
                                    "role": {"type": ["string", "null"]}, "assignee": {"type": ["string", "null"]},
                                    "person": {"type": ["string", "null"],
                                               "description": "the respondent the task is about (their own "
                                                              "statement or appeal, or their service or review)"},
                                    "claimed_by": {"type": ["string", "null"]},
                                    "due": {"type": ["string", "null"], "format": "date-time"},
                                    "overdue": {"type": "boolean"}, "form_key": {"type": ["string", "null"]},
                                    "channel": {"type": "string"}, "subject": {"type": "string"}}},
            "TaskPage": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Task")},
                                                          **PAGE_FIELDS}},
            "TaskDetail": {"allOf": [_ref("Task"), {"type": "object", "properties": {
                "form": {"type": ["object", "null"], "description": "the form's JSON Schema (draft 2020-12)"},
                "data": {"type": "object", "description": "current values of the form's fields"},
                "case": {"type": "object", "description": "the case in brief"},
                "state": {"type": "string"}}}]},
            "Claim": {"type": "object", "properties": {"id": {"type": "string"},
                                                       "claimed_by": {"type": ["string", "null"]}}},
            "Completed": {"type": "object", "properties": {"id": {"type": "string"}, "case_id": {"type": "integer"},
                                                           "status": {"type": "string"}, "stage": {"type": "string"},
                                                           "decisions": {"type": "array",
                                                                         "items": {"type": "string"}}}},
            "Case": {"type": "object", "properties": {
                "id": {"type": "integer"}, "channel": {"type": "string"}, "subject": {"type": "string"},
                "unit": {"type": "string"}, "summary": {"type": "string"}, "grounds": {"type": "array"},
                "act_date": {"type": "string"}, "year": {"type": "integer"}, "status": {"type": "string"},
                "stage": {"type": "string"}, "end_event": {"type": ["string", "null"]},
                "outcomes": {"type": ["array", "null"], "items": _ref("Outcome"),
                             "description": "one per respondent; a respondent sees only their own, once served"}}},
            "Outcome": {"type": "object", "required": ["person"], "properties": {
                "person": {"type": "string"}, "role": {"enum": ["handler", "reviewer", "approver"]},
                "unit": {"type": "string"}, "exempt": {"type": "boolean"}, "liable": {"type": "boolean"},
                "aggravated": {"type": "boolean"}, "tier": {"type": ["integer", "null"]},
                "measures": {"type": "array", "items": {"type": "string"},
                             "description": "the measures the tier offers"},
                "measure": {"type": ["string", "null"], "description": "the one measure decided for this person"},
                "citations": {"type": "array", "items": {"type": "string"}},
                "established": {"type": "boolean", "description": "decided by the leading group and not revoked"},
                "served_on": {"type": ["string", "null"], "format": "date"},
                "decision_number": {"type": ["string", "null"]}, "appeal": {"type": ["boolean", "null"]},
                "appeal_result": {"enum": ["upheld", "lowered", "revoked", "dismissed", None]},
                "revoked": {"type": "boolean"}}},
            "Respondent": {"type": "object", "properties": {
                "person": {"type": "string"}, "role": {"type": "string"}, "unit": {"type": "string"},
                "established": {"type": "boolean"}, "served_on": {"type": ["string", "null"], "format": "date"}}},
            "CaseDetail": {"allOf": [_ref("Case"), {"type": "object", "properties": {
                "tasks": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "person": {"type": ["string", "null"]}}}},
                "respondents": {"type": "array", "items": _ref("Respondent"), "description": "staff only"},
                "history": {"type": "array"}, "decisions": {"type": "array",
                                                            "description": "decision traces, each naming its person"},
                "reporter": {"type": "object", "description": "office only"}}}]},
            "CasePage": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Case")},
                                                          **PAGE_FIELDS}},
            "Evaluation": {"type": "object", "properties": {"outputs": {}, "trace": {"type": "object"}}},
        },
    },
}

# documents, notifications, registers and statistics (service/web/api_records.py)
from .openapi_records import PATHS, SCHEMAS  # noqa: E402 - it builds on the helpers above

OPENAPI["paths"].update(PATHS)
OPENAPI["components"]["schemas"].update(SCHEMAS)
