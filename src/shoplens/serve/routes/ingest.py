"""Ingest: upload a file and load it (admin). The upload waits in a private folder (0700) while it
is ingested and is deleted afterwards, also when the ingest fails; the folders a killed server left
behind are removed when the server next starts (:func:`remove_leftover_uploads`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.exceptions import RequestValidationError

from shoplens.errors import UserInputError
from shoplens.serve.deps import Admin, WarehouseDep
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import clean
from shoplens.serve.schemas.ingest import Accounting, IngestForm
from shoplens.store.files import open_private, private_dir

router = ResourceRouter(tags=["ingest"])
MAX_NAME_BYTES = 255  # the longest file name common file systems store


def remove_leftover_uploads(wh: Any) -> list[str]:
    """Delete the upload folders a killed server left behind (they may hold raw PII); returns their names.
    Only ``upload-*`` folders inside shoplens' own uploads folder are touched."""
    removed = []
    if wh.uploads_dir.is_dir():
        for folder in sorted(wh.uploads_dir.glob("upload-*")):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    return removed


def upload_name(filename: str | None) -> str:
    """The uploaded file's name, used only for its extension (format, compression): one plain name;
    ``..``, path separators, control characters or more than 255 bytes are a 422 naming the field.

    >>> upload_name("orders.csv.gz")
    'orders.csv.gz'
    """
    name = filename or "upload.csv"
    problem = None
    if name in (".", "..") or not name.strip():
        problem = "is not a file name"
    elif any(sep in name for sep in ("/", "\\")) or any(ord(c) < 32 for c in name):
        problem = "may not contain path separators or control characters"
    elif len(name.encode("utf-8", errors="surrogatepass")) > MAX_NAME_BYTES:
        problem = f"is longer than {MAX_NAME_BYTES} bytes"
    if problem:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise RequestValidationError([{"loc": ("body", "file"), "msg": f"the file name {shown!r} {problem}; "
                                       "name the file like orders.csv or export.csv.gz", "type": "value_error"}])
    return name


@router.post("/ingest", response_model=Accounting)
def ingest_file(form: Annotated[IngestForm, Form()], request: Request, wh: WarehouseDep, key: Admin) -> dict[str, Any]:
    """Upload a file and load it; returns the accounting (read = loaded + updated + quarantined + duplicates)."""
    from shoplens.services import ingest_files

    table, preset = form.table or None, form.preset or None
    if not table and not preset:
        raise UserInputError("give a table (form field `table`) or a preset (form field `preset`)")
    name = upload_name(form.file.filename)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=private_dir(wh.uploads_dir)))  # 0700
    try:  # removed in any case; a killed server's leftovers go when it next starts (app.create_app)
        target = folder / name
        with open_private(target) as out:
            shutil.copyfileobj(form.file.file, out)
        settings = request.app.state.settings
        # one ingest at a time: DuckDB allows one writer transaction per table
        with request.app.state.ingest_lock:
            result = ingest_files(settings, wh, [target], table=table, preset=preset, strict=form.strict)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        request.app.state.responses.clear()
    out = {"derived": None, **result.to_dict()}  # `derived` is always answered (null: none)
    out["files"] = [name]
    return clean(out)
