"""Readers: a policy document (.md, .txt, .docx, .pdf) as plain text.

The text a reader returns is what ingestion splits into clauses and what is stored as the
policy's ``source.txt``, so every clause can be checked against it word for word. Readers
therefore only remove what is never policy wording (HTML comments, link targets, bare URLs,
repeated PDF page headers and footers, page numbers) and otherwise keep the words as
delivered, markdown emphasis included. Word documents and PDFs are rendered in the same
light markdown the splitter reads: ``# Heading`` lines and ``- item`` lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import IngestError

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".pdf")

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_INLINE_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]*>")
_BARE_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>]*[^\s<>.,;:!?)\]'\"]")
_PDF_BULLET = re.compile(r"^\s*[•●▪◦‣∙■□➢➤✓]\s*")
_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.IGNORECASE
)


def read_document(path: Path) -> str:
    """Return the plain text of the policy document at ``path``.

    Supports .md/.txt (kept as written, minus HTML comments, link targets and URLs), .docx
    (headings as ``#`` lines, list paragraphs as ``-`` lines) and .pdf (page by page, with
    repeated page headers, footers and page numbers dropped). Raises ``IngestError`` with a
    one-sentence reason when the file is missing, unreadable, of an unsupported type,
    corrupt or encrypted.

    >>> read_document(Path("staff-acceptable-use-policy-2018.txt"))  # doctest: +SKIP
    'Staff Acceptable User Policy\\n\\nJuly 2018\\n...'
    """
    suffix = path.suffix.casefold()
    readers: dict[str, Callable[[Path], str]] = {
        ".docx": _read_docx,
        ".pdf": _read_pdf,
        **dict.fromkeys(TEXT_SUFFIXES, _read_text),
    }
    reader = readers.get(suffix)
    if reader is None:
        expected = ", ".join(SUPPORTED_SUFFIXES)
        raise IngestError(f"{path}: unsupported file type {suffix or '(none)'!r}; use {expected}.")
    if not path.exists():
        raise IngestError(f"{path}: file not found.")
    if not path.is_file():
        raise IngestError(f"{path}: not a file.")
    return _tidy(reader(path))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror or exc}).") from None


def _read_text(path: Path) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        raise IngestError(f"{path}: looks like a binary file, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Policies saved from Word on Windows are often cp1252; decoding with replacement
        # keeps every readable word rather than refusing the whole document.
        text = data.decode("cp1252", errors="replace")
    return clean_markup(text)


def clean_markup(text: str) -> str:
    """Remove HTML comments, link targets and bare URLs; keep every other character."""
    text = _HTML_COMMENT.sub("", text)
    text = _REFERENCE_DEFINITION.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _INLINE_LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub("", text)
    return _BARE_URL.sub("", text)


def _tidy(text: str) -> str:
    """Unify line endings and trailing spaces, so stored sources compare cleanly."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def _read_docx(path: Path) -> str:
    # Imported here so text-only deployments never pay for lxml at start-up.
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
    except Exception:  # python-docx/lxml/zipfile raise a wide, undocumented range of errors
        raise IngestError(f"{path}: not a readable Word (.docx) document.") from None
    has_title = any(
        not isinstance(block, Table) and _style_name(block) == "title" for block in blocks
    )
    lines: list[str] = []
    previous_was_item = False
    for block in blocks:
        if isinstance(block, Table):
            previous_was_item = False
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                lines += [" | ".join(dict.fromkeys(c for c in cells if c)), ""]
            continue
        text = block.text.strip()
        if not text:
            continue
        style = _style_name(block)
        heading = re.fullmatch(r"heading (\d)", style)
        if style == "title":
            lines += [f"# {' '.join(text.split())}", ""]
        elif heading:
            level = min(int(heading.group(1)) + (1 if has_title else 0), 6)
            lines += [f"{'#' * level} {' '.join(text.split())}", ""]
        elif style.startswith("list") or _is_numbered(block):
            if previous_was_item:
                lines.pop()  # consecutive items form one list, with no blank line between
            lines += [f"{'  ' * _list_level(block)}- {text}", ""]
            previous_was_item = True
            continue
        else:
            lines += [text, ""]
        previous_was_item = False
    return "\n".join(lines)


def _style_name(paragraph: Paragraph) -> str:
    style = getattr(paragraph, "style", None)
    name = getattr(style, "name", None) or ""
    return str(name).casefold()


def _is_numbered(paragraph: Paragraph) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _list_level(paragraph: Paragraph) -> int:
    ppr = paragraph._p.pPr
    # python-docx types numPr loosely; its ilvl child holds the list depth (0 = top).
    ilvl = getattr(ppr.numPr, "ilvl", None) if ppr is not None else None
    return int(ilvl.val) if ilvl is not None else 0


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{path}: the PDF is encrypted; ingest an unprotected copy.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise IngestError(
            f"{path}: not a readable PDF (the file is damaged or incomplete)."
        ) from None
    except Exception as exc:  # pypdf on hostile input can fail in ways it does not document
        raise IngestError(f"{path}: not a readable PDF ({type(exc).__name__}).") from None
    if not any(page.strip() for page in pages):
        raise IngestError(f"{path}: the PDF has no text to extract (is it a scanned image?).")
    return "\n\n".join(_structure_pdf_page(page) for page in _drop_page_furniture(pages))


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).casefold())


def _drop_page_furniture(pages: Iterable[str]) -> list[str]:
    """Drop page numbers and header/footer lines that repeat on most pages."""
    split = [[line for line in page.splitlines() if line.strip()] for page in pages]
    edges: Counter[str] = Counter()
    for lines in split:
        edges.update({_furniture_key(line) for line in lines[:2] + lines[-2:]})
    repeated = {key for key, count in edges.items() if len(split) > 1 and count * 2 > len(split)}
    kept: list[str] = []
    for lines in split:
        edge_indexes = set(range(min(2, len(lines)))) | set(
            range(max(0, len(lines) - 2), len(lines))
        )
        body = [
            line
            for index, line in enumerate(lines)
            if not _PAGE_NUMBER.match(line)
            and not (index in edge_indexes and _furniture_key(line) in repeated)
        ]
        kept.append("\n".join(body))
    return kept


def _structure_pdf_page(page: str) -> str:
    """Turn PDF bullets into ``- `` lines and set short title lines apart as headings."""
    out: list[str] = []
    for line in page.splitlines():
        line = _PDF_BULLET.sub("- ", line.rstrip())
        previous = out[-1] if out else ""
        if _looks_like_title(line) and (not previous or previous.endswith((".", ":", "!", "?"))):
            out += [line, ""] if not previous else ["", line, ""]
        else:
            out.append(line)
    return "\n".join(out)


def _looks_like_title(line: str) -> bool:
    words = line.split()
    return (
        0 < len(words) <= 8
        and line[:1].isupper()
        and not line.rstrip().endswith((".", ",", ";", ":", "!", "?"))
        and not line.startswith("- ")
    )
