"""Multipart bodies as raw bytes per part.

Starlette decodes parts without a filename into `str` and silently falls back to latin-1, which
would hide a corpus that is not UTF-8; so parts are collected undecoded with python-multipart.
"""

from __future__ import annotations

from email.message import Message

from python_multipart import MultipartParser

from parlance.errors import BadRequest


def parse(body: bytes, content_type: str) -> dict[str, list[tuple[bytes, str | None]]]:
    """Map part name → [(raw bytes, part content type)] in order of appearance."""
    msg = Message()
    msg["content-type"] = content_type
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BadRequest("The multipart Content-Type has no boundary")
    parts: dict[str, list[tuple[bytes, str | None]]] = {}
    state: dict[str, object] = {}

    def on_part_begin() -> None:
        state.update(headers={}, field=b"", value=[], data=[])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = state["field"] + data[start:end]  # type: ignore[operator]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"].append(data[start:end])  # type: ignore[attr-defined]

    def on_header_end() -> None:
        name = state["field"].decode("latin-1").lower()  # type: ignore[attr-defined]
        state["headers"][name] = b"".join(state["value"]).decode("latin-1")  # type: ignore[index, arg-type]
        state.update(field=b"", value=[])

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].append(data[start:end])  # type: ignore[attr-defined]

    def on_part_end() -> None:
        headers: dict[str, str] = state["headers"]  # type: ignore[assignment]
        disposition = Message()
        disposition["content-disposition"] = headers.get("content-disposition", "")
        name = disposition.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts.setdefault(name, []).append((b"".join(state["data"]), headers.get("content-type")))  # type: ignore[arg-type]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises several unrelated types on bad input
        raise BadRequest(f"The multipart body is malformed: {exc}") from None
    return parts
