"""Languages of the page chrome: zh-CN by default, English on request (Flask-Babel catalogues)."""
from __future__ import annotations

from pathlib import Path

from flask import has_request_context, session

LANGUAGES = ("zh_CN", "en")


def select_locale() -> str:
    if has_request_context():
        chosen = session.get("lang")
        if chosen in LANGUAGES:
            return chosen
    return "zh_CN"


def current_language() -> str:
    return "en" if select_locale() == "en" else "zh-CN"


def compile_catalogs(folder: Path) -> None:
    """Compile translations/*/LC_MESSAGES/messages.po to .mo when missing or older (build output, not in git)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in folder.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)


__all__ = ["LANGUAGES", "compile_catalogs", "current_language", "select_locale"]
