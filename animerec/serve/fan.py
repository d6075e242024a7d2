"""A fan's extras on the API: bring your MyAnimeList list, and the site icon.

``POST /import/mal`` reads MAL's "Export my list" file (XML, plain or gzipped) or the Kaggle
``animelist.csv`` rows of one user — sent as a multipart form field ``file`` or as JSON
``{"content": "...", "base64": false, "user_id": null}`` (the guard refuses other bodies) — and
answers what the list holds against the served catalog: the history (scored, completed), the
excluded anime (watching, on hold, plan to watch, dropped, completed unscored), the dislikes
(dropped) and the ids the catalog lacks. ``POST /users/{id}/import`` (the user's bearer token)
also stores the history and the dislikes as that user's ratings, so
``GET /users/{id}/recommendations`` starts from the whole list. Both paths are
:data:`UPLOAD_PATHS` (the guard lets multipart bodies up to its ``max_upload`` through there);
the handler bounds the file again (:data:`MAX_UPLOAD`); a malformed file is a 422 naming the
line or element.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from animerec.data.mal_list import MAX_BYTES, ImportedList, ListStatus, MalListError, load_list
from animerec.serve.auth import CurrentUser, UserIdPath
from animerec.serve.errors import ApiError, invalid
from animerec.serve.protection import limit_writes
from animerec.serve.routes import State
from animerec.serve.schemas import MAX_ID, InputItem
from animerec.serve.state import DISLIKED, ServeState

__all__ = ["MAX_UPLOAD", "UPLOAD_PATHS", "ImportResponse", "favicon_ico", "router"]

UPLOAD_PATHS = (r"/import/mal", r"/users/[A-Za-z0-9_-]{1,64}/import")
"""Paths whose POST takes a multipart file (:class:`~animerec.serve.protection.Protection`)."""

MAX_UPLOAD = 8 << 20
"""Largest upload accepted (8 MiB; a 5,000-entry MAL export is about 4 MB, gzipped ~10×
less); the parsed list is bounded again after gunzip (:data:`animerec.data.mal_list.MAX_BYTES`)."""
if MAX_UPLOAD > MAX_BYTES:  # the upload bound must not admit more than the parser accepts
    raise RuntimeError("MAX_UPLOAD exceeds animerec.data.mal_list.MAX_BYTES")

_STATUS_WORDS = {
    ListStatus.WATCHING: "watching",
    ListStatus.COMPLETED: "completed",
    ListStatus.ON_HOLD: "on hold",
    ListStatus.DROPPED: "dropped",
    ListStatus.PLAN_TO_WATCH: "plan to watch",
}

router = APIRouter()


class ExcludedItem(BaseModel):
    anime_id: int
    name: str
    status: str = Field(
        description="watching, completed (unscored), on hold, dropped, plan to watch"
    )


class ImportResponse(BaseModel):
    """What a list holds, read against the served catalog."""

    source: str = Field(description="mal-xml or kaggle-csv")
    entries: int = Field(description="entries in the file")
    history: list[InputItem] = Field(description="scored, completed anime: the history")
    excluded: list[ExcludedItem] = Field(description="anime left out of the results")
    dislikes: list[int] = Field(description="dropped anime (read as a rating of 1)")
    unknown_ids: list[int] = Field(description="ids the catalog does not have (not an error)")
    duplicate_ids: list[int] = Field(default_factory=list)
    stored: int | None = Field(
        default=None, description="ratings stored for the user (POST /users/{id}/import)"
    )


class ImportJson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_UPLOAD * 2, description="the file's text, or base64")
    base64: bool = Field(default=False, description="content is base64 (say, a .gz file)")
    user_id: int | None = Field(default=None, ge=0, le=MAX_ID, description="Kaggle user_id")


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "MAL 'Export my list' XML (plain or .gz) or a Kaggle animelist.csv",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "user_id": {"type": "integer"},
                    },
                    "required": ["file"],
                }
            },
            "application/json": {"schema": ImportJson.model_json_schema()},
        },
    }
}


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"the upload is larger than {MAX_UPLOAD:,} bytes")


async def _body(request: Request) -> bytes:
    """The raw body, refused past :data:`MAX_UPLOAD` without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _user_id(raw: object) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, str) and raw.strip().isdigit() and int(raw) <= MAX_ID:
        return int(raw)
    raise invalid("user_id", f"{raw!r} is not a whole number from 0 to {MAX_ID}")


async def _upload(request: Request) -> tuple[bytes, int | None]:
    """The file and the Kaggle user id, from a multipart form or a JSON body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().casefold()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD + 64_000:
        raise _too_large()
    if ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4, max_part_size=MAX_UPLOAD) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise invalid("file", "send the list as the form field 'file'")
            data = await file.read(MAX_UPLOAD + 1)
            if len(data) > MAX_UPLOAD:
                raise _too_large()
            return data, _user_id(form.get("user_id"))
    raw = await _body(request)
    if ctype != "application/json":  # the guard answers 415 first; this is for a bare app
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data or JSON")
    try:
        body = ImportJson.model_validate(json.loads(raw or b"null"))
    except (ValueError, ValidationError) as exc:
        msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not valid JSON"
        raise invalid("content", f"{msg}: send {{'content': '<the file>'}}") from None
    if not body.base64:
        return body.content.encode(), body.user_id
    try:
        return base64.b64decode(body.content, validate=True), body.user_id
    except (binascii.Error, ValueError):
        raise invalid("content", "is not valid base64") from None


def _read(s: ServeState, data: bytes, user_id: int | None) -> ImportedList:
    if not data.strip():
        raise invalid("file", "the upload is empty")
    try:
        return load_list(data, s.catalog, user_id=user_id)
    except MalListError as exc:
        raise invalid("file", str(exc)) from None


def _answer(s: ServeState, got: ImportedList, stored: int | None = None) -> ImportResponse:
    name = lambda a: s.summary(a)["name"]  # noqa: E731 - a one-line lookup
    return ImportResponse(
        source=got.source,
        entries=got.n_entries,
        history=[InputItem(anime_id=a, name=name(a), rating=r) for a, r in got.history.items()],
        excluded=[
            ExcludedItem(anime_id=a, name=name(a), status=_STATUS_WORDS[got.statuses[a]])
            for a in sorted(got.excluded)
        ],
        dislikes=sorted(got.dislikes),
        unknown_ids=list(got.unknown_ids),
        duplicate_ids=list(got.duplicate_ids),
        stored=stored,
    )


@router.post("/import/mal", response_model=ImportResponse, tags=["import"], openapi_extra=_BODY_DOC)
async def import_list(s: State, request: Request) -> ImportResponse:
    """Read a MyAnimeList export (or Kaggle animelist rows) against the catalog; stores nothing."""
    data, user_id = await _upload(request)
    got = await run_in_threadpool(_read, s, data, user_id)  # parsing MBs: off the event loop
    return _answer(s, got)


@router.post(
    "/users/{user_id}/import",
    response_model=ImportResponse,
    tags=["import", "users"],
    openapi_extra=_BODY_DOC,
    dependencies=[Depends(limit_writes)],
)
async def import_for_user(
    s: State, request: Request, user_id: UserIdPath, uid: CurrentUser
) -> ImportResponse:
    """Read a list and store its history (scores) and dislikes (rating 1) as the user's ratings,
    replacing earlier ones of the same anime (one write against the rate limit, one
    transaction); what else it excludes is in the answer for the client to keep."""
    data, kaggle_user = await _upload(request)
    got = await run_in_threadpool(_read, s, data, kaggle_user)
    ratings = dict(got.history) | {a: DISLIKED for a in got.dislikes}
    await run_in_threadpool(s.store.set_ratings, uid, ratings)  # one transaction
    return _answer(s, got, stored=len(ratings))


# --- the icon ---------------------------------------------------------------------------------


def _png(size: int) -> bytes:
    """A ``size``² RGBA PNG: the page's accent colour in a disc with a lighter ring."""
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5 / (size / 2)
            if d <= 0.62:
                row += bytes((0x5B, 0x3F, 0xD9, 0xFF))
            elif d <= 0.98:
                row += bytes((0xB9, 0xA8, 0xF5, 0xFF))
            else:
                row += bytes(4)
        rows.append(bytes(row))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


@cache
def favicon_ico() -> bytes:
    """A 32×32 icon in the ICO container (one PNG image), built once in code: no binary file."""
    png = _png(32)
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(
        favicon_ico(),
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )
