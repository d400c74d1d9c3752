"""Ingestion: a policy document becomes a ``Policy`` of clauses, ready for a knowledge folder.

The document's text (see ``bot.documents``) is cut into blocks (headings, list items,
paragraphs, and junk such as signature lines and form blanks), then walked in order:
headings build the section path, list items and paragraphs become clauses. Every clause's
text is a run of the source's own words (pieces of a clause broken across lines or pages are
joined with one space), so an answer can quote it and a test can find it.

Clause ids are ``<section slug>-<hash of the words>``: the same document always gives the
same ids. Given the policy already in the knowledge folder, a new version keeps the id (and
the hand-written questions and tags) of every clause that is unchanged or only slightly
reworded, so curation survives re-ingestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from bot.documents import read_document
from bot.errors import IngestError
from bot.knowledge import (
    POLICY_FILE,
    Clause,
    Obligation,
    Policy,
    load_policy,
    save_policy,
    sha256_text,
    slugify,
)
from bot.metadata import (
    DATED,
    VERSION_LINE,
    find_contact,
    find_version,
    is_bare_date,
    plain_line,
)
from bot.obligation import classify_obligation

SOURCE_FILE = "source.txt"
DEFAULT_CONTACT = "your line manager"
SIMILAR_ENOUGH = 85  # rapidfuzz ratio (0-100) above which a reworded clause keeps its id
_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")

_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(\s*)(?:[-*+•●▪◦‣∙]|\d{1,3}[.)]|[a-z][.)])\s+(\S.*)$")
_EMPHASIS = re.compile(r"[*_`]+")
_SIGNATURE = re.compile(r"^(?:signed|signature|sign here|print name)\b", re.IGNORECASE)
_FORM_BLANK = re.compile(r"_{3,}|\.{5,}|…{3,}")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_NAVIGATION = re.compile(
    r"^(?:back to top|(?:table of )?contents|related (?:information|links|pages)|see also|"
    r"further reading|print this page|share this page|skip to (?:main )?content|"
    r"(?:return to|top of) (?:top|page)|was this page helpful\??)$",
    re.IGNORECASE,
)
_FORM_INSTRUCTION = re.compile(
    r"^(?:please )?tick\b|\btick (?:the |this )?box\b|^please (?:sign|print|initial|date)\b",
    re.IGNORECASE,
)
_LABEL_ONLY = re.compile(r"^[\w()/&'-]+(?: [\w()/&'-]+){0,4}:-?$")
_ACKNOWLEDGEMENT = re.compile(
    r"^i (?:have read|understand|confirm|agree|accept|acknowledge|declare)\b", re.IGNORECASE
)
_LABEL_LEVEL = 7  # a bold label ("**Privacy Team**") sits below every markdown heading
_SMALL_WORDS = frozenset("a an and as at by for from in of on or the to with".split())


@dataclass
class _Block:
    kind: str  # "heading", "item", "para" or "junk"
    lines: list[str]
    level: int = 0
    gap_before: bool = True
    ended_by: str = "eof"

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.lines).split())


@dataclass
class _Draft:
    section: tuple[str, ...]
    text: str
    context: str | None = None
    obligation: Obligation = field(init=False)

    def __post_init__(self) -> None:
        self.obligation = classify_obligation(self.text, self.context)

    def extend(self, more: str) -> None:
        self.text = f"{self.text} {more}"
        self.obligation = classify_obligation(self.text, self.context)


def ingest(
    path: Path,
    *,
    previous: Policy | None = None,
    policy_id: str | None = None,
    version: str | None = None,
) -> tuple[Policy, str]:
    """Read and split a policy document; return the ``Policy`` and its source text.

    ``previous`` is the policy currently in the knowledge folder: its id, title and contact
    are kept, and so are the ids, questions and tags of clauses that did not change (or
    changed only slightly within the same section). ``policy_id`` replaces the id made from
    the title; ``version`` is used when the document states none near its top (else the
    previous version if the text is unchanged, else the first 8 hex digits of its hash).
    Raises ``IngestError`` when the document cannot be read or holds no clauses.

    >>> policy, source = ingest(Path("staff-acceptable-use-policy-2018.txt"))  # doctest: +SKIP
    >>> policy.version                                                        # doctest: +SKIP
    'July 2018'
    """
    if policy_id is not None and (not _ID.match(policy_id) or len(policy_id) > 80):
        raise IngestError(f"policy id {policy_id!r} must be lower-case letters, digits and '-'.")
    source = read_document(path)
    blocks = _blocks(source, markdown=bool(re.search(r"^ {0,3}#{1,6}\s", source, re.MULTILINE)))
    # The title is the first "# " heading (or, in plain text, the first title-like line).
    title_index = next(
        (i for i, b in enumerate(blocks) if b.kind == "heading" and b.level == 1), None
    )
    drafts = _split(blocks, title_index)
    if not drafts:
        raise IngestError(
            f"{path}: no policy clauses found (the document is empty or only headings)."
        )
    content_hash = sha256_text(source)
    unchanged = previous is not None and previous.content_hash == content_hash
    kept = previous if unchanged else None
    given = " ".join((version or "").split())
    stated, effective = find_version(source)
    found_version = stated or given or (kept.version if kept else "") or content_hash[:8]
    effective = effective or find_version(given)[1] or (kept.effective if kept else None)
    title = (
        _section_name(blocks[title_index].text)
        if title_index is not None
        else path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    )
    clauses = _carry_over([_to_clause(d) for d in drafts], previous)
    policy = Policy(
        id=policy_id or (previous.id if previous else slugify(title, 60)),
        title=previous.title if previous else title,
        version=found_version,
        effective=effective,
        contact=previous.contact if previous else _contact(drafts),
        source=path.name,
        content_hash=content_hash,
        clauses=tuple(clauses),
    )
    return policy, source


def ingest_to_folder(
    path: Path, out: Path, *, policy_id: str | None = None, version: str | None = None
) -> Policy:
    """Ingest ``path`` into the knowledge folder ``out`` (``policy.yaml`` + ``source.txt``).

    An existing ``out/policy.yaml`` is the previous version: unchanged clauses keep their
    ids and curation. The folder loads with ``bot.knowledge.load_policies`` at once.
    """
    if out.exists() and not out.is_dir():
        raise IngestError(f"{out}: exists and is not a folder.")
    if out.is_dir() and any(out.glob(f"*/{POLICY_FILE}")):
        # A policy.yaml here would hide the policies beside it (see load_policies).
        raise IngestError(f"{out}: holds other policies; write to a sub-folder such as {out}/new.")
    previous = load_policy(out) if (out / POLICY_FILE).is_file() else None
    policy, source = ingest(path, previous=previous, policy_id=policy_id, version=version)
    save_policy(policy, out)
    (out / SOURCE_FILE).write_text(source, encoding="utf-8")
    return policy


def clause_id(section: tuple[str, ...], text: str) -> str:
    """The stable id of a clause: ``"social-media-3f9a1c"`` (section slug + words' hash)."""
    return f"{slugify(section[-1], 24)}-{sha256_text(_normalise(text))[:6]}"


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _is_junk_line(line: str) -> bool:
    plain = plain_line(line).strip(" -–—|")
    return bool(
        _SIGNATURE.match(plain)
        or _FORM_BLANK.search(line)
        or _PAGE_NUMBER.match(plain)
        or _NAVIGATION.match(plain)
        or is_bare_date(DATED.sub("", plain))
        or VERSION_LINE.match(plain)
    )


def _is_junk(text: str) -> bool:
    plain = plain_line(text)
    return _is_junk_line(text) or bool(
        _FORM_INSTRUCTION.search(plain) or not re.search(r"[^\W_]", plain)
    )


def _blocks(source: str, *, markdown: bool) -> list[_Block]:
    """Cut the text into headings, list items, paragraphs and junk, in order."""
    blocks: list[_Block] = []
    current: _Block | None = None
    gap = True

    def close(reason: str) -> None:
        nonlocal current
        if current is not None:
            current.ended_by = reason
            blocks.append(current)
        current = None

    for line in source.split("\n"):
        if not line.strip():
            close("blank")
            gap = True
            continue
        heading = _MD_HEADING.match(line)
        bullet = _BULLET.match(line)
        if heading and re.search(r"[^\W_]", heading.group(2)):
            close("heading")
            blocks.append(_Block("heading", [heading.group(2)], level=len(heading.group(1))))
        elif _is_junk_line(line):
            close("junk")
            blocks.append(_Block("junk", [line]))
        elif bullet:
            close("item")
            current = _Block("item", [bullet.group(2)], gap_before=gap)
        elif current is not None:
            current.lines.append(line)
        elif not markdown and gap and _is_all_caps(line):
            blocks.append(_Block("heading", [line], level=1))
        else:
            current = _Block("para", [line], gap_before=gap)
        gap = False
    close("eof")
    for block in blocks:
        if block.kind == "para" and len(block.lines) == 1:
            if _is_bold_label(block.lines[0]):
                block.kind, block.level = "heading", _LABEL_LEVEL
            elif (
                not markdown
                and _is_title_like(block)
                and block.ended_by in ("blank", "eof", "item")
            ):
                block.kind, block.level = "heading", 1
    return blocks


def _is_all_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters) and len(line.split()) <= 12


def _is_title_like(block: _Block) -> bool:
    text = plain_line(block.text)
    return (
        block.gap_before
        and 0 < len(text.split()) <= 12
        and len(text) <= 90
        and text[:1].isupper()
        and not text.endswith((".", ",", ";", ":", ":-", "!", "?"))
        and not re.search(r"\b(?:must|shall)\b|@", text, re.IGNORECASE)
    )


def _is_bold_label(line: str) -> bool:
    """``**Digital Service Desk**`` or ``**Privacy Team:**``, but not ``**Never:**``."""
    match = re.fullmatch(r"\s*(\*\*|__)([^*_]+)\1\s*", line)
    if not match or len(match.group(2).split()) > 12 or not re.search(r"\w", match.group(2)):
        return False
    label = match.group(2).rstrip()
    if label.endswith((":", ":-")):
        return classify_obligation(label, label) is Obligation.INFORMATION
    return not label.endswith((".", "!", "?", ";", ","))


def _section_name(heading: str) -> str:
    name = plain_line(heading).rstrip(":").rstrip(":-").strip()
    if _is_all_caps(name):
        words = name.casefold().split()
        name = " ".join(
            w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
        )
    return name


def _is_sentence_heading(heading: str) -> bool:
    """A heading that is itself a rule ("... questions. Please refer all inquiries to ...")."""
    return len(heading.split()) >= 8 and bool(re.search(r"[.!?]\s+\S", heading))


def _ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?:;)\]\"'”’*_]$", text))


def _split(blocks: list[_Block], title_index: int | None) -> list[_Draft]:
    """Walk the blocks in order and produce the clauses with their sections."""
    drafts: list[_Draft] = []
    stack: list[tuple[int, str]] = []
    skip_level: int | None = None
    lead: str | None = None  # a lead-in ("Never:") waiting for the list it introduces
    lead_used = False
    lead_at = -2  # the lead-in's block index: it joins only the block right after it
    open_draft: _Draft | None = None  # a clause that may continue after a page break

    def emit(text: str, context: str | None = None) -> None:
        nonlocal open_draft
        section = tuple(name for _, name in stack) or ("Introduction",)
        draft = _Draft(section, text, context)
        drafts.append(draft)
        open_draft = None if _ends_sentence(text) else draft

    def flush_lead() -> None:
        nonlocal lead
        if lead is not None and not lead_used and len(_sentences(lead)) == 1:
            emit(lead)  # a lead-in with nothing to lead into is still the policy's words
        lead = None

    for index, block in enumerate(blocks):
        if block.kind == "heading":
            if skip_level is not None and block.level > skip_level:
                continue
            if block.level == _LABEL_LEVEL and lead is not None and index == lead_at + 1:
                emit(f"{lead} {block.text}")  # "... the terms of the:-" + "**Policy name**"
                lead = None
                continue
            skip_level = None
            flush_lead()
            open_draft = None
            if index == title_index:
                continue
            name = _section_name(block.text)
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            if _NAVIGATION.match(name):
                skip_level = block.level
                continue
            stack.append((block.level, name))
            if _is_sentence_heading(block.text):
                emit(block.text)
                open_draft = None  # a heading never runs on into the next paragraph
            continue
        if skip_level is not None:
            continue
        text = block.text
        if block.kind == "junk" or _is_junk(text):
            # A lead-in to signatures ("Signed by:") goes with them; and no clause continues
            # across dropped words, or its text would no longer be the source's.
            lead, open_draft = None, None
            continue
        if block.kind == "item":
            if _LABEL_ONLY.match(plain_line(text)):  # "Intranet:" once its link has gone
                open_draft, lead_used = None, True
            else:
                emit(text, lead)
                lead_used = True
            continue
        if open_draft is not None and text[:1].islower():
            open_draft.extend(text)
            open_draft = None if _ends_sentence(open_draft.text) else open_draft
            continue
        if lead is not None and index == lead_at + 1:
            emit(f"{lead} {text}")  # "I have read and accept the terms of the:-" + its object
            lead = None
            continue
        if _ACKNOWLEDGEMENT.match(plain_line(text)):  # "I have read and accept ..." ends a policy
            stack = [(stack[0][0] if stack else 1, "Acknowledgement")]
        if plain_line(text).endswith((":", ":-")):
            flush_lead()
            if len(_sentences(text)) > 1:
                emit(text)
            lead, lead_used, lead_at, open_draft = text, False, index, None
            continue
        if plain_line(text).startswith(("...", "…")) and lead is not None:
            emit(text, lead)  # "... as well as any other activities" still belongs to the list
            continue
        lead = None
        emit(text)
    flush_lead()
    return drafts


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*_(\"'])", plain_line(text)) if s]


def _contact(drafts: list[_Draft]) -> str:
    help_section = re.compile(r"contact|help|advice|enquir|feedback", re.IGNORECASE)
    in_help = [d.text for d in drafts if help_section.search(" ".join(d.section))]
    return find_contact([d.text for d in drafts], in_help) or DEFAULT_CONTACT


def _to_clause(draft: _Draft) -> Clause:
    return Clause(
        id=clause_id(draft.section, draft.text),
        section=draft.section,
        text=draft.text,
        obligation=draft.obligation,
    )


def _carry_over(clauses: list[Clause], previous: Policy | None) -> list[Clause]:
    """Keep ids and curation from the previous version; make every id unique."""
    result = list(clauses)
    if previous is not None:
        unused = {c.id: c for c in previous.clauses}
        matched: set[int] = set()
        for i, clause in enumerate(clauses):  # unchanged words: the whole curated clause
            old = next(
                (o for o in unused.values() if _normalise(o.text) == _normalise(clause.text)), None
            )
            if old is not None:
                result[i] = old.model_copy(update={"text": clause.text})
                matched.add(i)
                del unused[old.id]
        pairs = sorted(
            (
                (-fuzz.ratio(_normalise(clause.text), _normalise(old.text)), i, old.id)
                for i, clause in enumerate(clauses)
                if i not in matched
                for old in unused.values()
                if old.section == clause.section or old.id.startswith(clause.id[:-6])
            ),
        )
        for negative_score, i, old_id in pairs:
            if -negative_score < SIMILAR_ENOUGH or i in matched or old_id not in unused:
                continue
            old = unused.pop(old_id)
            result[i] = clauses[i].model_copy(
                update={"id": old.id, "questions": old.questions, "tags": old.tags}
            )
            matched.add(i)
    return _unique(result)


def _unique(clauses: list[Clause]) -> list[Clause]:
    """Disambiguate repeated ids in document order: ``x``, ``x-2``, ``x-3``."""
    taken = {c.id for c in clauses}
    seen: set[str] = set()
    unique = []
    for clause in clauses:
        new_id = clause.id
        if new_id in seen:
            n = 2
            while f"{clause.id}-{n}" in taken:
                n += 1
            new_id = f"{clause.id}-{n}"
            taken.add(new_id)
            clause = clause.model_copy(update={"id": new_id})
        seen.add(new_id)
        unique.append(clause)
    return unique
