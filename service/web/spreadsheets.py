"""Excel downloads (openpyxl): one sheet per table, no cell a formula."""
from __future__ import annotations

import io
from typing import Any, Iterable, Sequence
from urllib.parse import quote

from flask import Response

from . import csv_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def workbook_bytes(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An .xlsx file with one sheet per (title, header, rows). Text that a spreadsheet would run as a formula gets a
    leading quote, as in the CSV exports, and every text cell is stored as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title.translate(_SHEET_FORBIDDEN)[:31])
        sheet.append([csv_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(str(h)) for h in header]
        for row in rows:
            values = [csv_cell(v) for v in row]
            sheet.append(values)
            for i, v in enumerate(values):
                if i < len(widths):
                    widths[i] = max(widths[i], len(str(v)) if v is not None else 0)
        for row in sheet.iter_rows(min_row=1):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
        for i, w in enumerate(widths, 1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max(w * 1.8, 8), 60)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(filename: str, sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> Response:
    return Response(workbook_bytes(sheets), mimetype=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
