"""The service layer: one method per use case, each owning its transaction.

Split along the use cases: intake (:mod:`.intake`), tasks and timers (:mod:`.tasks`), reads
(:mod:`.reads`), the public complaint page's filing and enquiries (:mod:`.public`), moving cases
between versions (:mod:`.migration`) and the notices and decisions of each respondent (:mod:`.documents`); what
they share — the write transaction, authorisation, system facts and writing a case's state — is in :mod:`.base`.
"""
from .documents import DocumentService
from .intake import IntakeService
from .migration import MigrationService
from .public import PublicService
from .reads import ReadService
from .tasks import TaskService


class CaseService(IntakeService, PublicService, TaskService, ReadService, MigrationService, DocumentService):
    """Every use case of a case, for the web layer and the commands."""


__all__ = ["CaseService"]
