"""The email itself: built once into exact bytes, named by what it says.

The bytes built here are what the outbox keeps as ``<outbox>/<month>/<scope>.eml``
and, for the ``smtp`` method, exactly what goes over the wire, so the archive is a
faithful copy of what the managers received.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.charset import Charset
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from html import escape
from pathlib import Path

from yagmail.message import prepare_message  # type: ignore[import-untyped]

from yuebao.files import safe_name
from yuebao.months import Month
from yuebao.words import labels

# RFC 5322 lines end in CRLF; compat32 keeps yagmail's header encoding (RFC 2047).
_WIRE = email_policy.compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class OutgoingEmail:
    """One draft to deliver: a community's review, or the portfolio roll-up."""

    month: str
    scope: str
    to: tuple[str, ...]
    subject: str
    html: str
    text: str
    attachments: tuple[Path, ...] = ()
    folder: str | None = None  # the scope's output folder name, unique in the month
    # The pictures the HTML shows: (its src, e.g. "charts/trend_rates.png", the file).
    # They travel inline (multipart/related, cid:), never as attachments.
    images: tuple[tuple[str, Path], ...] = ()
    # What each attachment is called in the email (same order); its file's name if empty.
    attachment_names: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """The attachments' names as the recipient sees them."""
        return self.attachment_names or tuple(Path(path).name for path in self.attachments)


# The longest community name kept in an attachment's name: the pattern's words must fit
# in the 255 bytes a file name may have on disk once the manager saves it.
_NAME_CHARACTERS = 40


def _file_name(text: str) -> str:
    """A file name on every system: unsafe characters and runs of spaces become "_",
    and no leading or trailing dots or spaces (Windows drops or refuses them)."""
    return re.sub(r"[\s_]+", "_", safe_name(text)).strip(" ._") or "_"


def attachment_name(file_name: str, scope_name: str, month: str, language: str) -> str:
    """``锦江小区_2026年11月工作总结（草稿）.docx`` for ``review.docx`` of 锦江小区's November.

    The pattern is ``[attachment]`` of labels.toml, keyed by the file's stable name on
    disk; a file without a pattern keeps its own name. Managers save attachments of
    every community and month into one folder, so the name says whose and which.
    """
    pattern = labels(language).get("attachment", {}).get(file_name)
    if pattern is None:
        return file_name
    when = Month.parse(month)
    name = _file_name(scope_name)[:_NAME_CHARACTERS]
    return _file_name(pattern.format(name=name, year=when.year, month=when.month))


def eml_path(outbox_dir: Path, email: OutgoingEmail) -> Path:
    """``<outbox>/<month>/<folder>.eml``: named like the scope's folder, so two
    communities whose ids differ only in characters a file name cannot hold never
    share an archive."""
    name = email.folder or safe_name(email.scope)
    return Path(outbox_dir) / safe_name(email.month) / f"{name}.eml"


def content_hash(email: OutgoingEmail) -> str:
    """What the draft says, as a sha256 hex digest.

    Recipients and the date are left out on purpose: the same draft sent to one
    more manager, or sent again a day later, is the same content, and the ledger
    uses this hash to tell "this version was sent" from "an earlier version was".
    Every part is length-prefixed so that no two different drafts can run
    together into the same byte stream.
    """
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    for text in (email.month, email.scope, email.subject, email.html, email.text):
        part(text.encode("utf-8"))
    for path, name in zip(email.attachments, email.names(), strict=True):
        part(name.encode("utf-8"))
        part(_attachment_bytes(Path(path)))
    for source, path in email.images:
        part(source.encode("utf-8"))
        part(_attachment_bytes(Path(path)))
    return digest.hexdigest()


def content_id(source: str, data: bytes) -> str:
    """``trend_rates.3f2a…@yuebao``: named by the file and its bytes, so the same
    chart always has the same id (the email's bytes stay reproducible) and two
    different pictures never share one."""
    stem = Path(source).stem.encode("ascii", "ignore").decode() or "image"
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:16]}@yuebao"


def _inline_images(email: OutgoingEmail) -> tuple[str, list[MIMEImage]]:
    """The HTML with each picture's ``src`` pointing at its part, and those parts.

    A picture the HTML does not show is left out, so no part dangles.
    """
    html, parts = email.html, []
    for source, path in email.images:
        quoted = f'src="{escape(source, quote=True)}"'
        if quoted not in html:
            continue
        data = _attachment_bytes(Path(path))
        cid = content_id(source, data)
        html = html.replace(quoted, f'src="cid:{cid}"')
        image = MIMEImage(data, "png")
        image.add_header("Content-ID", f"<{cid}>")
        image.add_header("Content-Disposition", "inline", filename=Path(source).name)
        parts.append(image)
    return html, parts


def _attachment_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"attachment not found: {path}") from None


def message_id(email: OutgoingEmail, sender: str, digest: str | None = None) -> str:
    """A Message-ID that depends only on the month and the content.

    The same draft re-delivered (``--resend``, or to a recipient whose first try
    failed) keeps its Message-ID, so mail clients recognise the copy; a changed
    draft gets a new one. ``digest`` is :func:`content_hash` when already known.
    """
    digest = digest or content_hash(email)
    domain = sender.rpartition("@")[2] or "localhost"
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "localhost"
    return f"<yuebao.{email.month}.{digest[:32]}@{domain}>"


def build_message(email: OutgoingEmail, *, sender: str, sender_name: str | None,
                  date: datetime) -> tuple[str, bytes]:
    """The email as ``(message_id, exact RFC 5322 bytes with CRLF line ends)``.

    yagmail (``yagmail.message.prepare_message``, the function behind
    ``SMTP.prepare_send``) builds the MIME tree: multipart/mixed holding a
    multipart/alternative (text/plain, then multipart/related with the
    text/html) and one part per attachment. Three things are then corrected on
    that tree, because yagmail would otherwise damage the draft:

    * yagmail turns every newline of a string content into ``<br>`` and wraps it
      in a ``<div>``, and puts that same HTML-ish string into the text/plain
      alternative. Both alternative parts are therefore replaced by parts that
      carry exactly ``email.html`` and ``email.text`` (the Markdown draft), built
      the way yagmail builds its own (``MIMEText`` in UTF-8).
    * yagmail writes From as ``"addr" <addr>`` when there is no display name and
      escapes quotes in a name before ``formataddr`` escapes them again; From is
      rewritten with ``formataddr`` alone (a Chinese name is RFC 2047 encoded).
    * the charts (``email.images``) go into the multipart/related beside the
      HTML, each with a Content-ID the HTML's ``src`` now names (``cid:``) and an
      ``inline`` disposition, so clients show them in the body, not as attachments.
    * yagmail marks only ``application/*`` files as attachments, under their
      file's name; every attachment gets ``Content-Disposition: attachment`` with
      its name from ``email.names()`` (RFC 2231, ``filename*=utf-8''...``, when it
      is not ASCII; the Content-Type's ``name`` as an RFC 2047 word for clients
      that read only that one), so that clients do not show image or text files
      inline in the body; text files also get a ``charset=utf-8`` (without it a
      Chinese review.md opens as mojibake).

    ``prettify_html=False`` because yagmail would otherwise import premailer,
    which is not a dependency. The tree is serialised here instead of with
    yagmail's ``as_string()``, which disables header folding (a long Chinese
    subject would become one over-long encoded word) and uses bare LF. The
    ``Date`` keeps the offset of ``date``, so the caller decides the time zone.
    """
    missing = [str(p) for p in (*email.attachments, *(path for _, path in email.images))
               if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"attachment not found: {missing[0]}")
    identity = message_id(email, sender)
    addresses: dict[str, object] = {"recipients": list(email.to)}
    if email.to:
        addresses["To"] = ", ".join(email.to)
    msg = prepare_message(
        sender, sender_name or sender, addresses, email.subject,
        contents=[email.html],
        attachments=[str(p) for p in email.attachments] or None,
        headers={
            "Date": format_datetime(date if date.tzinfo else date.astimezone()),
            "X-Yuebao-Month": email.month,
            "X-Yuebao-Scope": email.scope,
        },
        encoding="utf-8",
        prettify_html=False,
        message_id=identity,
    )
    msg.replace_header("From", formataddr((sender_name, sender)) if sender_name else sender)
    if not email.to:
        msg.replace_header("To", "undisclosed-recipients:;")

    alternative, *attached = msg.get_payload()
    related = alternative.get_payload()[1]
    alternative.get_payload()[0] = MIMEText(email.text, "plain", "utf-8")
    html, images = _inline_images(email)
    related.get_payload()[0] = MIMEText(html, "html", "utf-8")
    for image in images:
        related.attach(image)
    for part, name in zip(attached, email.names(), strict=True):
        _name_attachment(part, name)
        if part.get_content_maintype() == "text" and part.get_param("charset") is None:
            part.set_param("charset", "utf-8")  # our files are UTF-8; say so, or it is ASCII
    return identity, msg.as_bytes(policy=_WIRE)


def _name_attachment(part: Message, name: str) -> None:
    """``Content-Disposition: attachment`` under ``name``, RFC 2231 encoded if not ASCII."""
    ascii_only = name.isascii()
    del part["Content-Disposition"]
    part.add_header("Content-Disposition", "attachment",
                    filename=name if ascii_only else ("utf-8", "", name))
    # One encoded word, as Outlook and Thunderbird write it (Header would split it in two).
    part.set_param("name", name if ascii_only else Charset("utf-8").header_encode(name))
