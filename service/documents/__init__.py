"""Notices and decisions served on each respondent: the owner-edited templates in ``documents/`` (Jinja2 HTML
rendered to PDF by WeasyPrint, docxtpl Word files), their numbers (文号) and what each one says.

Nothing here touches the database or the workflow: :mod:`service.cases.documents` decides when a document is due,
gathers the case's facts and stores what this package renders."""
from .content import DUE_POINTS, KINDS, Facts, build
from .templates import DocumentError, DocumentTemplates, Rendered

__all__ = ["DUE_POINTS", "KINDS", "DocumentError", "DocumentTemplates", "Facts", "Rendered", "build"]
