"""E-mail (.eml, RFC 822) with the stdlib: headers, the text body (HTML converted), attachment names."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from . import read_bytes
from .html import html_to_text


def read(path: Path, kind: str) -> tuple[str, None]:
    msg = BytesParser(policy=policy.default).parsebytes(read_bytes(path))
    lines = [f"{h}: {msg[h]}" for h in ("Subject", "From", "To", "Cc", "Date") if msg[h]]
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _content(body)
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    attachments = [part.get_filename() for part in msg.iter_attachments() if part.get_filename()]
    if attachments:
        text += "\n\nAttachments: " + ", ".join(attachments)
    return "\n".join(lines) + "\n\n" + text.strip(), None


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError):  # unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")
