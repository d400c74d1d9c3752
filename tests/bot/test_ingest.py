"""Ingestion: documents in every format become clauses quoted word for word from the source."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from bot.documents import read_document
from bot.errors import IngestError
from bot.ingest import clause_id, ingest, ingest_to_folder
from bot.knowledge import (
    Obligation,
    Policy,
    load_policies,
    load_policy,
    save_policy,
    sha256_text,
)
from bot.metadata import parse_date
from bot.obligation import classify_obligation

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEED = SHARED / "seed" / "staff-acceptable-use-policy-2018.txt"
SHARED_POLICIES = sorted((SHARED / "policies").glob("*.md")) if SHARED.is_dir() else []
needs_shared = pytest.mark.skipif(not SEED.is_file(), reason="../shared is not beside the repo")


def collapse(text: str) -> str:
    return " ".join(text.split())


def assert_sound(policy: Policy, source: str) -> None:
    """Every clause is verbatim in the source (modulo whitespace); ids are unique."""
    flat = collapse(source)
    for clause in policy.clauses:
        assert clause.text in flat, clause.text
    ids = [c.id for c in policy.clauses]
    assert len(ids) == len(set(ids))
    assert policy.content_hash == sha256_text(source)


def texts(policy: Policy) -> list[str]:
    return [c.text for c in policy.clauses]


def by_text(policy: Policy, start: str) -> list[str]:
    return [c.text for c in policy.clauses if c.text.startswith(start)]


# --- a minimal PDF, written by hand: one Helvetica text line per BT/ET block --------------


def minimal_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF whose pages show ``pages``' lines top to bottom (correct xref offsets)."""

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        stream = "\n".join(
            f"BT /F1 11 Tf 72 {800 - 16 * n} Td ({escape(line)}) Tj ET"
            for n, line in enumerate(lines)
            if line
        ).encode("cp1252")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


PDF_PAGES = [
    [
        "Oakfield Primary School",
        "Laptop Policy",
        "Last updated 3 May 2023",
        "Using school laptops",
        "\u2022 Staff must lock their laptop when leaving the classroom.",
        "\u2022 Staff must not lend a school laptop to family members or",
        "",
        "Page 1 of 2",
    ],
    [
        "Oakfield Primary School",
        "friends, even for an evening.",
        "Passwords",
        "\u2022 You are responsible for keeping your password secret.",
        "",
        "Page 2 of 2",
    ],
]


@pytest.fixture
def pdf_file(tmp_path: Path) -> Path:
    path = tmp_path / "laptop-policy.pdf"
    path.write_bytes(minimal_pdf(PDF_PAGES))
    return path


@pytest.fixture
def docx_file(tmp_path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Mobile Device Policy", 0)
    document.add_paragraph("Version 2.1")
    document.add_heading("Phones in school", 1)
    document.add_paragraph("Staff must keep phones on silent in lessons.", style="List Bullet")
    document.add_paragraph("Never:")
    document.add_paragraph("Photograph pupils on a personal phone.", style="List Bullet")
    document.add_heading("Getting help", 1)
    document.add_paragraph("If you are unsure, ask the IT Support Team for advice.")
    path = tmp_path / "devices.docx"
    document.save(str(path))
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- readers ------------------------------------------------------------------------------


def test_markdown_reader_drops_comments_and_urls_but_keeps_emphasis(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.md",
        "<!-- source: https://example.org/x -->\n# Policy\n\n"
        "- Read the [security guidance](https://example.org/guide) **first**.\n"
        "- Intranet: https://intranet.example.org/page\n",
    )
    text = read_document(path)
    assert "<!--" not in text and "example.org" not in text
    assert "Read the security guidance **first**." in text


def test_docx_reader_renders_headings_and_list_items(docx_file: Path) -> None:
    text = read_document(docx_file)
    assert text.startswith("# Mobile Device Policy\n")
    assert "## Phones in school" in text
    assert "- Staff must keep phones on silent in lessons." in text


def test_pdf_reader_drops_repeated_headers_and_page_numbers(pdf_file: Path) -> None:
    text = read_document(pdf_file)
    assert "Oakfield Primary School" not in text
    assert "Page 1" not in text and "Page 2" not in text
    assert "- Staff must lock their laptop when leaving the classroom." in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip archive", "Word"),
        ("policy.rtf", b"{\\rtf1 hello}", "unsupported"),
        ("binary.txt", b"\x00\x01\x02 policy", "binary"),
    ],
)
def test_unreadable_documents_raise_a_clear_ingest_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message) as raised:
        read_document(path)
    assert str(path) in str(raised.value)


def test_encrypted_pdf_is_refused(pdf_file: Path, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(str(pdf_file)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(IngestError, match="encrypted"):
        read_document(locked)


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([[], []]))
    with pytest.raises(IngestError, match="no text"):
        read_document(path)


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="not found"):
        ingest(tmp_path / "nowhere.md")


def test_document_without_clauses_is_an_ingest_error(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.md", "# Only a title\n\n## And a heading\n")
    with pytest.raises(IngestError, match="no policy clauses"):
        ingest(path)


# --- splitting ------------------------------------------------------------------------------

PLAIN = """\
Staff Device Policy

Version 3

Laptops

- Staff must not lend laptops to their own

family members or friends, even for an evening.
- Staff must lock laptops when they leave them
unattended in a classroom.

BREACHES OF THE POLICY

- Any breach may lead to disciplinary action.

If in doubt, ask the Head teacher for advice.

Signed: Head teacher A. Smith Date July 2018

Name (Printed): _____ Date: _____

Back to top
"""


def test_plain_text_headings_sections_and_rejoined_bullets(tmp_path: Path) -> None:
    policy, source = ingest(write(tmp_path, "devices.txt", PLAIN))
    assert_sound(policy, source)
    assert policy.title == "Staff Device Policy"
    assert policy.version == "3"
    assert texts(policy) == [
        "Staff must not lend laptops to their own family members or friends, even for an evening.",
        "Staff must lock laptops when they leave them unattended in a classroom.",
        "Any breach may lead to disciplinary action.",
        "If in doubt, ask the Head teacher for advice.",
    ]
    assert policy.clauses[0].section == ("Laptops",)
    assert policy.clauses[2].section == ("Breaches of the Policy",)
    assert policy.contact == "the Head teacher"


def test_lead_ins_give_their_obligation_to_the_list(tmp_path: Path) -> None:
    text = (
        "# Remote working\n\n## At home\n\n**Always:**\n\n- Keep equipment safe.\n\n"
        "**Never:**\n\n- Leave equipment unattended.\n- Let family use your laptop.\n\n"
        "Examples of things to avoid include:\n\n- Printing at home.\n"
    )
    policy, source = ingest(write(tmp_path, "remote.md", text))
    assert_sound(policy, source)
    found = {c.text: c.obligation for c in policy.clauses}
    assert found == {
        "Keep equipment safe.": Obligation.REQUIRED,
        "Leave equipment unattended.": Obligation.PROHIBITED,
        "Let family use your laptop.": Obligation.PROHIBITED,
        "Printing at home.": Obligation.PROHIBITED,
    }
    assert {c.section for c in policy.clauses} == {("At home",)}


def test_signatures_blanks_dates_navigation_and_urls_are_not_clauses(tmp_path: Path) -> None:
    text = (
        "# Policy\n\nJuly 2018\n\n## Rules\n\n- You must wear a badge.\n\n"
        "To be agreed at the next meeting:\n\nSigned: Chair of Governors Date July 2018\n\n"
        "I have read and accept the terms of the:-\n\n**Badge Policy**\n\n"
        "*Please tick to confirm you have read this policy*\n\n"
        "Signature: ________\n\n## Related information\n\nSome linked page\n\n"
        "See https://example.org/page for more.\n"
    )
    policy, source = ingest(write(tmp_path, "badges.md", text))
    assert_sound(policy, source)
    assert texts(policy) == [
        "You must wear a badge.",
        "I have read and accept the terms of the:- **Badge Policy**",
    ]
    assert policy.clauses[1].section == ("Acknowledgement",)
    assert policy.effective == date(2018, 7, 1)


def test_docx_document_ingests_with_sections_and_lead_in(docx_file: Path) -> None:
    policy, source = ingest(docx_file)
    assert_sound(policy, source)
    assert policy.title == "Mobile Device Policy"
    assert policy.version == "2.1"
    assert [(c.section, c.obligation) for c in policy.clauses] == [
        (("Phones in school",), Obligation.REQUIRED),
        (("Phones in school",), Obligation.PROHIBITED),
        (("Getting help",), Obligation.INFORMATION),
    ]
    assert policy.contact == "the IT Support Team"


def test_pdf_document_rejoins_a_bullet_broken_across_pages(pdf_file: Path) -> None:
    policy, source = ingest(pdf_file)
    assert_sound(policy, source)
    assert policy.title == "Laptop Policy"
    assert (policy.version, policy.effective) == ("3 May 2023", date(2023, 5, 3))
    assert texts(policy) == [
        "Staff must lock their laptop when leaving the classroom.",
        "Staff must not lend a school laptop to family members or friends, even for an evening.",
        "You are responsible for keeping your password secret.",
    ]
    assert [c.section for c in policy.clauses] == [
        ("Using school laptops",),
        ("Using school laptops",),
        ("Passwords",),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("July 2018", date(2018, 7, 1)),
        ("Last updated 3rd May 2023", date(2023, 5, 3)),
        ("Reviewed: 2021-09-14", date(2021, 9, 14)),
        ("Effective from 01/09/2022", date(2022, 9, 1)),
        ("September 5, 2020", date(2020, 9, 5)),
    ],
)
def test_dates_are_read_as_written(text: str, expected: date) -> None:
    found = parse_date(text)
    assert found is not None and found[1] == expected


# --- obligations ----------------------------------------------------------------------------

OBLIGATIONS = [
    ("Staff **must not** identify themselves as employees of the school.", "prohibited"),
    ("Team Members mustn't speculate or add forward-looking statements.", "prohibited"),
    ("**Must never** dispose of information in your home rubbish.", "prohibited"),
    ("Never send work material to personal email accounts.", "prohibited"),
    ("Don't open any attachments.", "prohibited"),
    ("Do not leave equipment unattended.", "prohibited"),
    ("Should not print out personal information relating to others.", "prohibited"),
    ("Posting anonymous messages and forwarding chain letters is forbidden.", "prohibited"),
    ("Access to social media sites for personal reasons is not allowed.", "prohibited"),
    ("School does not permit personal use of social media during work hours.", "prohibited"),
    ("Team Members are prohibited from using social media to post false comments.", "prohibited"),
    ("Distributing abusive statements will be regarded as gross misconduct.", "prohibited"),
    (
        "Direct contact with pupils by telephone calls or text messages should not happen",
        "prohibited",
    ),
    ("You may not use data obtained in the course of your employment.", "prohibited"),
    ("As a team member, you aren't authorized to create brand accounts.", "prohibited"),
    ("If the use would cause offence, it's probably not acceptable.", "prohibited"),
    ("Removable media are a security risk, so avoid using them.", "prohibited"),
    ("You are responsible for the security of your passwords.", "required"),
    ("Staff **must** only use school equipment to record pupils.", "required"),
    ("This usage must always be for work purposes.", "required"),
    ("You are required to complete the training.", "required"),
    ("You need to be vigilant when working in public spaces.", "required"),
    ("Staff members are expected to devote their contracted hours to their duties.", "required"),
    ("Professional tone to be used in all phone calls.", "required"),
    ("Governors shall review this policy every year.", "required"),
    ("**Caution** is advised when inviting colleagues. Staff **must not** insult them.", "advised"),
    ("Staff members **are advised to set the privacy levels as strictly as they can**.", "advised"),
    ("It is a good idea to use a separate email address for social networking.", "advised"),
    ("Emails should contain the same professional language as letters.", "advised"),
    ("Be careful about what is posted online.", "advised"),
    ("Try to live our values online.", "advised"),
    ("If you are in doubt about any of the above, please seek advice.", "advised"),
    ("Don't be afraid to report incidents and issues.", "advised"),
    ("Keep MoJ accounts and password information secure.", "required"),
    ("Lock your computer, even when unattended for short periods.", "required"),
    ("Take care of your equipment.", "advised"),
    ("Think about whether a family member might see the information.", "advised"),
    ("Staff may use school laptops at home.", "permitted"),
    ("You can identify yourself as a team member in your profile bio.", "permitted"),
    ("Limited personal use of IT is acceptable as long as it causes no problem.", "permitted"),
    ("You aren't required to follow any of these specifics.", "permitted"),
    ("Staff are allowed to charge their phones in the staff room.", "permitted"),
    (
        "Any breach of this policy may be investigated and may lead to disciplinary action.",
        "information",
    ),
    ("Social networking sites can leave professionals vulnerable.", "information"),
    ("Suspension of access, so that you cannot do your work.", "information"),
    ("I understand the implications of any breach of this policy.", "information"),
    ("Third-party articles that don't bash competitors are fine to share.", "permitted"),
    (
        "If you are working remotely, or do not have access to equipment, it might be tempting.",
        "information",
    ),
]


@pytest.mark.parametrize(("text", "expected"), OBLIGATIONS)
def test_obligation_follows_the_wording(text: str, expected: str) -> None:
    assert classify_obligation(text) is Obligation(expected)


@pytest.mark.parametrize(
    ("item", "lead_in", "expected"),
    [
        ("Leave equipment unattended.", "**Never:**", "prohibited"),
        ("Let family use your laptop.", "Do not:", "prohibited"),
        ("Keep equipment safe.", "**Always:**", "required"),
        ("Share your password.", "You must not:", "prohibited"),
        ("Lock your screen.", "You must:", "required"),
        (
            "Using your work email address for personal tasks.",
            "Examples of things to avoid include:",
            "prohibited",
        ),
        (
            "Calling premium rate services.",
            "Examples of unacceptable phone use include:",
            "prohibited",
        ),
        (
            "Should connect directly using USB.",
            "However, if you really must print, you:",
            "advised",
        ),
        (
            "Bad publicity or embarrassment.",
            "Unacceptable use might affect us, such as:",
            "information",
        ),
        ("Make or receive calls.", "The mobile phone enables you to:", "permitted"),
    ],
)
def test_a_lead_in_sets_the_obligation_of_its_list(item: str, lead_in: str, expected: str) -> None:
    assert classify_obligation(item, context=lead_in) is Obligation(expected)


# --- ids and versions -----------------------------------------------------------------------

VERSION_1 = """\
# Device Policy

## Laptops

- Staff must lock laptops when leaving the room.
- Staff must not lend laptops to anyone outside the school.
- Laptops should be charged overnight.

## Phones

- Staff may carry a personal phone for emergencies.
"""


def test_ids_are_stable_and_follow_the_pattern(tmp_path: Path) -> None:
    path = write(tmp_path, "devices.md", VERSION_1)
    first, _ = ingest(path)
    again, _ = ingest(path)
    assert [c.id for c in first.clauses] == [c.id for c in again.clauses]
    clause = first.clauses[0]
    assert clause.id == clause_id(("Laptops",), clause.text)
    assert all(re.fullmatch(r"(laptops|phones)-[0-9a-f]{6}", c.id) for c in first.clauses)


def test_repeated_clauses_get_distinct_ids(tmp_path: Path) -> None:
    text = "# P\n\n## A\n\n- Report it.\n- Report it.\n- Report it.\n"
    policy, _ = ingest(write(tmp_path, "p.md", text))
    base = policy.clauses[0].id
    assert [c.id for c in policy.clauses] == [base, f"{base}-2", f"{base}-3"]


def test_a_new_version_keeps_ids_and_curation(tmp_path: Path) -> None:
    out = tmp_path / "knowledge" / "devices"
    first = ingest_to_folder(write(tmp_path, "v1.md", VERSION_1), out, policy_id="devices")
    curated = first.model_copy(
        update={
            "title": "Staff Device Policy",
            "contact": "the school business manager",
            "clauses": tuple(
                c.model_copy(update={"questions": (f"question about {c.id}",), "tags": ("kit",)})
                for c in first.clauses
            ),
        }
    )
    save_policy(curated, out)
    version_2 = (
        VERSION_1.replace("lock laptops when leaving the room", "lock laptops when leaving a room")
        .replace("- Laptops should be charged overnight.\n", "")
        .replace("## Phones\n", "## Phones\n\n- Phones must be on silent in lessons.\n")
    )
    second = ingest_to_folder(write(tmp_path, "v2.md", version_2), out, version="2.0")
    old = {c.id: c for c in curated.clauses}
    new = {c.text: c for c in second.clauses}
    assert new["Staff must lock laptops when leaving a room."].id == curated.clauses[0].id
    assert (
        new["Staff must not lend laptops to anyone outside the school."].id == curated.clauses[1].id
    )
    assert new["Staff may carry a personal phone for emergencies."].id == curated.clauses[3].id
    for clause in second.clauses:
        if clause.id in old:
            assert clause.questions == (f"question about {clause.id}",)
            assert clause.tags == ("kit",)
    assert new["Phones must be on silent in lessons."].id not in old
    assert new["Phones must be on silent in lessons."].questions == ()
    assert (second.id, second.title, second.version) == ("devices", "Staff Device Policy", "2.0")
    assert second.contact == "the school business manager"
    assert load_policies(out) == [second]
    assert (out / "source.txt").read_text(encoding="utf-8") == read_document(tmp_path / "v2.md")


def test_version_comes_from_the_document_then_the_caller_then_the_hash(tmp_path: Path) -> None:
    stated = write(tmp_path, "stated.md", "# P\n\nVersion 4.2\n\n- Staff must sign in.\n")
    silent = write(tmp_path, "silent.md", "# P\n\n- Staff must sign in.\n")
    assert ingest(stated, version="9")[0].version == "4.2"
    assert ingest(silent, version="September 2024")[0].effective == date(2024, 9, 1)
    policy, source = ingest(silent)
    assert (policy.version, policy.effective) == (sha256_text(source)[:8], None)


def test_ingest_will_not_write_over_a_folder_of_policies(tmp_path: Path) -> None:
    ingest_to_folder(write(tmp_path, "v1.md", VERSION_1), tmp_path / "knowledge" / "devices")
    with pytest.raises(IngestError, match="holds other policies"):
        ingest_to_folder(tmp_path / "v1.md", tmp_path / "knowledge")
    assert not (tmp_path / "knowledge" / "policy.yaml").exists()


def test_an_invalid_policy_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="policy id"):
        ingest(write(tmp_path, "p.md", VERSION_1), policy_id="Not An Id!")


# --- real documents -------------------------------------------------------------------------

Check = Callable[[Path], Policy]


@pytest.fixture
def ingest_into_folder(tmp_path: Path) -> Check:
    def check(path: Path) -> Policy:
        out = tmp_path / path.stem
        policy = ingest_to_folder(path, out)
        assert load_policies(out) == [policy]
        assert_sound(policy, (out / "source.txt").read_text(encoding="utf-8"))
        return policy

    return check


@needs_shared
def test_the_seed_policy_ingests_as_the_school_reads_it(ingest_into_folder: Check) -> None:
    policy = ingest_into_folder(SEED)
    assert (policy.version, policy.effective) == ("July 2018", date(2018, 7, 1))
    assert len(policy.clauses) == 40
    sections = {c.section[0] for c in policy.clauses}
    assert {"Computer network", "Internet / Email", "Mobile Phones", "Social Media"} <= sections
    assert {"Use of photographs, video and digital images", "Breaches of the Policy"} <= sections
    broken = by_text(policy, "Staff members **must not make contact")
    assert len(broken) == 1 and broken[0].endswith(
        "friends of the family member who may be school pupils."
    )
    continued = by_text(policy, "Staff **must not to have social media contact")
    assert continued[0].endswith("accept Facebook friend requests from parents of a pupil.")
    flat = " ".join(texts(policy))
    for junk in ("Signed:", "Signature", "Please tick", "To be presented", "_____"):
        assert junk not in flat
    acknowledgement = [c for c in policy.clauses if c.section == ("Acknowledgement",)]
    assert [c.text[:27] for c in acknowledgement] == [
        "I have read and accept the ",
        "I understand the implicatio",
    ]
    obligation = {c.text.split(" when ")[0][:24]: c.obligation for c in policy.clauses}
    assert obligation["**Caution** is advised"] is Obligation.ADVISED
    assert obligation["Staff members **are advi"] is Obligation.ADVISED
    assert obligation["Social Media is used inc"] is Obligation.INFORMATION
    assert obligation["Any breach of this polic"] is Obligation.INFORMATION


@needs_shared
@pytest.mark.parametrize("path", SHARED_POLICIES, ids=lambda p: p.stem)
def test_shared_policies_ingest_soundly(ingest_into_folder: Check, path: Path) -> None:
    policy = ingest_into_folder(path)
    assert len(policy.clauses) >= 30
    assert len({c.section for c in policy.clauses}) >= 8
    assert policy.title and not policy.title.startswith("#")
    assert not any("http" in c.text or "<!--" in c.text for c in policy.clauses)
    assert {c.obligation for c in policy.clauses} >= {
        Obligation.PROHIBITED,
        Obligation.REQUIRED,
        Obligation.INFORMATION,
    }


def test_bundled_sources_reingest_to_the_same_ids() -> None:
    """Every bundled source.txt, re-read, gives back the curated policy's clause ids."""
    knowledge = Path(__file__).resolve().parents[2] / "knowledge"
    folders = sorted(p.parent for p in knowledge.glob("*/policy.yaml"))
    assert folders
    for folder in folders:
        policy = load_policy(folder)
        fresh, _ = ingest(folder / "source.txt", previous=policy)
        assert [c.id for c in fresh.clauses] == [c.id for c in policy.clauses]
        assert fresh == policy.model_copy(update={"source": "source.txt"})


# --- any document: the quoting promise holds ------------------------------------------------

LINE = st.sampled_from(
    [
        "",
        "",
        "# Device Policy",
        "## Laptops",
        "PHONES",
        "Mobile phones",
        "- Staff must lock laptops when they leave them",
        "- Staff **must not** share passwords.",
        "* Never leave equipment unattended.",
        "1. Report losses to the office.",
        "unattended in a classroom or the staff room.",
        "family members or friends, even for an evening.",
        "**Never:**",
        "Examples of things to avoid include:",
        "I have read and accept the terms of the:-",
        "**Device Policy for all Staff**",
        "Signed: Head teacher Date July 2018",
        "Name (Printed): _____ Date: _____",
        "July 2018",
        "Back to top",
        "See [the guidance](https://example.org/guide) for more.",
        "<!-- a comment -->",
        "Caution is advised when adding colleagues. Staff must not insult them.",
        "**Privacy Team**",
        "  - Email: privacy@example.org",
        "... as well as anything not obviously work-related.",
        "\tIndented\twith tabs, and a trailing space ",
    ]
)


FRAGMENT = st.sampled_from(
    "# |## |- |* |1. |a) |**|*|_|:|:-|.|...|Staff|must|not|never|pupils|July 2018|Signed:|____|"
    "Back to top|I have read|the|family|https://x.org/a|[link](http://y.z)|<!-- c -->|PHONES|"
    "Version 2|If in doubt,|the Team|(note)|e.g.|\t|Page 3|Always|include".split("|")
)
SCRAMBLED = st.lists(FRAGMENT, min_size=1, max_size=6).map(" ".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(LINE | SCRAMBLED, min_size=1, max_size=25))
def test_every_clause_of_any_document_is_quoted_verbatim(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "generated.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        policy, source = ingest(path)
    except IngestError as exc:
        assert "no policy clauses" in str(exc)
        return
    assert_sound(policy, source)
    assert policy.title.strip()
    assert all(c.section and all(part.strip() for part in c.section) for c in policy.clauses)
