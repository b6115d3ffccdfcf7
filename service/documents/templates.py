"""The owners' document templates: settings (``documents.yaml``), Jinja2 HTML → PDF (WeasyPrint) and docxtpl DOCX.

Templates run in Jinja2's sandbox with autoescaping, and WeasyPrint may load nothing but files of the templates'
own folder (no network, no other file), so an edited template can neither run code nor leak a file."""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS = "documents.yaml"


class DocumentError(Exception):
    """A template or the settings cannot produce a document: the message says which file and what is wrong."""


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    docx: bytes
    template_hash: str  # SHA-256 of the settings and every template file used


def folder() -> Path:
    """$ACCOUNTABILITY_DOCUMENTS, else the repository's documents/ folder."""
    return Path(os.environ.get("ACCOUNTABILITY_DOCUMENTS") or ROOT / "documents")


def number_text(pattern: str, year: int, seq: int) -> str:
    return pattern.format(year=year, seq=seq)


class DocumentTemplates:
    """One folder of templates. Files are read when a document is rendered, so an owner's edit applies to the next
    document issued; each document records the hash of the files that made it."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else folder()

    def settings(self) -> dict[str, Any]:
        file = self.path / SETTINGS
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise DocumentError(f"{file}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("kinds"), dict):
            raise DocumentError(f"{file}: needs a mapping 'kinds' (one entry per kind of document)")
        for kind, spec in data["kinds"].items():
            missing = [k for k in ("title", "number", "issuer", "html", "docx") if not (spec or {}).get(k)]
            if missing:
                raise DocumentError(f"{file}: kinds.{kind} lacks {', '.join(missing)}")
            if "{seq}" not in spec["number"] or "{year}" not in spec["number"]:
                raise DocumentError(f"{file}: kinds.{kind}.number must contain {{year}} and {{seq}}")
            if spec["issuer"] not in ("office", "leading_group"):
                raise DocumentError(f"{file}: kinds.{kind}.issuer must be office or leading_group")
        return data

    def kind(self, kind: str) -> dict[str, Any]:
        settings = self.settings()
        if kind not in settings["kinds"]:
            raise DocumentError(f"{self.path / SETTINGS}: no entry kinds.{kind}")
        return settings["kinds"][kind]

    def _files(self, spec: dict[str, Any]) -> list[Path]:
        files = [self.path / SETTINGS, self.path / spec["html"], self.path / spec["docx"]]
        files += sorted(p for p in self.path.iterdir() if p.suffix in (".css",) or p.name.startswith("_"))
        return files

    def template_hash(self, kind: str) -> str:
        digest = hashlib.sha256()
        for file in self._files(self.kind(kind)):
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
        return digest.hexdigest()

    def check(self, kind: str, content: dict[str, Any]) -> str:
        """Run both templates' Jinja on ``content`` without making the files (milliseconds, where the PDF takes
        about a second): raises :class:`DocumentError` as :meth:`render` would for a template that cannot use
        this content. The hash of the files checked."""
        spec = self.kind(kind)
        self.html(spec["html"], content)
        self._docx_template(spec["docx"], content)
        return self.template_hash(kind)

    def render(self, kind: str, content: dict[str, Any]) -> Rendered:
        spec = self.kind(kind)
        return Rendered(self.pdf(spec["html"], content), self.docx(spec["docx"], content), self.template_hash(kind))

    # ---------------------------------------------------------------- formats

    def _env(self) -> SandboxedEnvironment:
        return SandboxedEnvironment(loader=FileSystemLoader(str(self.path)), autoescape=True,
                                    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def html(self, name: str, content: dict[str, Any]) -> str:
        try:
            return self._env().get_template(name).render(**content)
        except TemplateError as exc:
            raise DocumentError(f"{self.path / name}: {exc}") from None

    def pdf(self, name: str, content: dict[str, Any]) -> bytes:
        from weasyprint import HTML
        html = self.html(name, content)
        base = self.path.resolve()
        try:
            return HTML(string=html, base_url=f"{base.as_uri()}/", url_fetcher=_local_fetcher(base)).write_pdf()
        except Exception as exc:  # noqa: BLE001 - WeasyPrint's own errors: name the template
            raise DocumentError(f"{self.path / name}: {exc}") from None

    def docx(self, name: str, content: dict[str, Any]) -> bytes:
        template = self._docx_template(name, content)
        out = io.BytesIO()
        try:
            template.save(out)
        except (OSError, KeyError, ValueError) as exc:
            raise DocumentError(f"{self.path / name}: {exc}") from None
        return out.getvalue()

    def _docx_template(self, name: str, content: dict[str, Any]):
        """The Word template with ``content`` filled in (its Jinja run), not yet saved."""
        from docxtpl import DocxTemplate
        path = self.path / name
        try:
            template = DocxTemplate(str(path))
            template.render(content, jinja_env=self._env(), autoescape=True)
        except TemplateError as exc:
            raise DocumentError(f"{path}: {exc}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise DocumentError(f"{path}: {exc}") from None
        return template


def _local_fetcher(base: Path):
    """A WeasyPrint fetcher that loads only files inside ``base`` (style sheets, images of the templates)."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    class LocalFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            target = Path(unquote(parsed.path)).resolve()
            if parsed.scheme != "file" or base not in target.parents:
                raise ValueError(f"documents may only use files of {base}: {url}")
            return super().fetch(url, headers)

    return LocalFetcher(allowed_protocols={"file"}, allow_redirects=False)
