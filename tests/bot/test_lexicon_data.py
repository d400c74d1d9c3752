"""The shared lexicon (knowledge/lexicon.yaml) is data: these tests keep it valid, tidy and tight.

It maps chat language ("insta", "sacked", "year 9") to the words policies use ("social
media", "dismissal", "pupil"). Mistakes here do not crash anything; they quietly send
questions to the wrong clause. So beyond validation, the tests check that every entry is
reachable by the analyser that uses it, that no entry is a hub with dozens of meanings,
that one-way groups stay one-way, and that the expansions people rely on exist.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bot.analysis import STOP_WORDS, Analyzer, singular, words
from bot.errors import KnowledgeError
from bot.lexicon import Lexicon, LexiconGroup, load_lexicon

REPO_ROOT = Path(__file__).resolve().parents[2]
LEXICON_PATH = REPO_ROOT / "knowledge" / "lexicon.yaml"

MIN_GROUPS = 300
#: A term that means more than this is a hub word: it drags unrelated clauses into answers.
MAX_MEANINGS = 40


def lookup_key(term: str) -> tuple[str, ...]:
    """How the analyser files a lexicon term: its words, regular plurals folded."""
    return tuple(singular(w) for w in words(term))


def group_lists(group: LexiconGroup) -> list[tuple[str, ...]]:
    return [group.synonyms] if group.synonyms else [group.words, group.means, group.equals]


def describe(group: LexiconGroup) -> str:
    first = group.synonyms or group.words
    return f"group starting {first[0]!r}"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


@pytest.fixture(scope="module")
def expansions(lexicon: Lexicon) -> dict[str, dict[str, bool]]:
    return lexicon.expansions()


@pytest.fixture(scope="module")
def analyzer(lexicon: Lexicon) -> Analyzer:
    return Analyzer(lexicon)


# --- shape and hygiene ------------------------------------------------------------------


def test_lexicon_validates_and_is_broad(lexicon: Lexicon) -> None:
    assert len(lexicon.groups) >= MIN_GROUPS


def test_no_group_appears_twice(lexicon: Lexicon) -> None:
    seen: Counter[tuple[object, ...]] = Counter()
    for group in lexicon.groups:
        if group.synonyms:
            seen[("synonyms", frozenset(group.synonyms))] += 1
        else:
            key = ("words", frozenset(group.words), frozenset(group.means), frozenset(group.equals))
            seen[key] += 1
    assert [key for key, count in seen.items() if count > 1] == []


def test_no_list_repeats_a_term_or_a_regular_plural(lexicon: Lexicon) -> None:
    # Look-ups fold regular plurals ("parents" -> "parent"), so listing both is noise.
    repeats = []
    for group in lexicon.groups:
        for terms in group_lists(group):
            counts = Counter(lookup_key(t) for t in terms)
            repeats += [(describe(group), key) for key, n in counts.items() if n > 1]
    assert repeats == []


def test_terms_are_folded_text(lexicon: Lexicon) -> None:
    # The validator checks case and spacing; this also catches YAML turning "no" into False
    # or an entry that has no word characters at all.
    odd = [t for t in lexicon.terms() if not isinstance(t, str) or not words(t)]
    assert odd == []


def test_phrases_of_stop_words_match_only_through_their_meanings(
    lexicon: Lexicon, expansions: dict[str, dict[str, bool]], analyzer: Analyzer
) -> None:
    # "next to me" analyses to no search term of its own: typed, it must be one concept that
    # matches through its meanings, never one that counts as found in every clause.
    empty = [t for t in lexicon.terms() if all(w in STOP_WORDS for w in words(t))]
    for term in empty:
        assert term in expansions, f"{term!r} is only stop words and means nothing"
        (concept,) = analyzer.query(term).concepts
        assert concept.stems == () and concept.expansions


def test_no_hub_terms(expansions: dict[str, dict[str, bool]]) -> None:
    merged: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for term, meanings in expansions.items():
        merged[lookup_key(term)].update(meanings)
    hubs = {" ".join(key): len(m) for key, m in merged.items() if len(m) > MAX_MEANINGS}
    assert hubs == {}


# --- reachability through the analyser -------------------------------------------------------


def test_every_entry_is_reachable_and_adds_something(
    expansions: dict[str, dict[str, bool]], analyzer: Analyzer
) -> None:
    """Each term people type must be found as a whole and expand to a new search term.

    This catches phrases too long to match, single stop words ("ok"), generic words the
    analyser never expands (school, staff, allowed), and entries whose meanings stem to
    the very words typed (so they add nothing). A phrase the analyser files as generic
    because all its words are generic or stop words ("day off", "after school") is matched
    whole; whether it then expands is the analyser's rule, so such phrases may stay.
    """
    dead = []
    for term in expansions:
        surface = " ".join(words(term))
        concepts = [c for c in analyzer.query(term).concepts if c.surface == surface]
        generic_phrase = len(words(term)) > 1 and all(c.generic for c in concepts)
        if not concepts or not (generic_phrase or any(c.expansions for c in concepts)):
            dead.append(term)
    assert sorted(dead) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("a year 9 wants to follow me on insta", {"pupil", "social media"}),
        ("can I ring a parent from my own mobile", {"telephone call", "personal phone"}),
        ("is online poker ok at work", {"gambling"}),
        ("can my kids use my work laptop", {"family", "work equipment"}),
        ("should I switch off alexa on calls", {"smart device"}),
        ("can I post pics of my class on fb", {"photograph", "social media"}),
        # Everyday situations of home and remote working, bridged to how policies put them.
        ("nipping to the loo, do I need to lock my laptop", {"unattended", "short periods"}),
        ("can I leave my laptop on sleep over the weekend", {"shut down", "long periods"}),
        ("can I leave case papers on the kitchen table", {"sensitive information", "workspace"}),
        ("can I chuck printouts in the bin at home", {"rubbish", "dispose", "printed materials"}),
        ("the person next to me on the train can see my screen", {"overlooked", "public place"}),
        ("can I still email the old helpdesk address", {"no longer monitored", "service desk"}),
        ("can I post on the forum without signing my name", {"anonymous", "message board"}),
        ("do temps have to follow the usual rules", {"agency staff", "policies", "comply"}),
        ("can I read confidential files at a conference", {"sensitive information", "travelling"}),
        ("can my partner borrow my work laptop", {"unauthorised people", "lend", "it equipment"}),
        ("can I print wirelessly at home", {"wifi", "home working"}),
        ("someone sent a weird email claiming to be from IT", {"suspicious", "impersonate"}),
        ("what happens if I keep breaking the social media rules", {"consistently", "breach"}),
        ("is there staff parking", {"parking"}),
        ("what time does the canteen open", {"cafeteria"}),
    ],
)
def test_chat_questions_reach_policy_words(
    analyzer: Analyzer, question: str, expected: set[str]
) -> None:
    reached = {p for c in analyzer.query(question).concepts for p, _ in c.expansions}
    missing = {m for m in expected if tuple(analyzer.terms(m)) not in reached}
    assert missing == set()


# --- spot checks: the expansions people rely on -----------------------------------------------


@pytest.mark.parametrize(
    ("term", "meanings"),
    [
        ("insta", {"social media"}),
        ("fb", {"social media"}),
        ("tiktok", {"social media"}),
        ("whatsapp", {"social media", "instant messaging"}),
        ("linkedin", {"personal webspace"}),
        ("blog", {"personal webspace"}),
        ("mum", {"parent"}),
        ("dad", {"parent"}),
        ("step-parent", {"parent"}),
        ("guardian", {"parent", "carer"}),
        ("year 9", {"pupil"}),
        ("sixth former", {"student"}),
        ("kid", {"pupil", "family member"}),
        ("children", {"pupil"}),
        ("housemate", {"unauthorised people"}),
        ("spouse", {"family"}),
        ("coworker", {"colleague"}),
        ("boss", {"line manager"}),
        ("headmaster", {"headteacher"}),
        ("supply teacher", {"temporary staff"}),
        ("freelancer", {"contractor"}),
        ("sacked", {"dismissal"}),
        ("fired", {"dismissal"}),
        ("axed", {"dismissal"}),
        ("written warning", {"disciplinary action"}),
        ("sackable", {"gross misconduct"}),
        ("poker", {"gambling"}),
        ("bookies", {"gambling"}),
        ("lottery", {"gambling"}),
        ("sweepstake", {"sweepstakes"}),
        ("ebay", {"commercial purposes", "goods"}),
        ("side hustle", {"personal financial gain"}),
        ("petition", {"political purposes"}),
        ("promo", {"advertising"}),
        ("torrent", {"copyright"}),
        ("cracked software", {"licence", "license"}),
        ("freeware", {"software"}),
        ("ipad", {"equipment", "device"}),
        ("laptop", {"equipment", "device"}),
        ("smartphone", {"mobile phone"}),
        ("work laptop", {"work equipment"}),
        ("own laptop", {"personal device"}),
        ("alexa", {"smart device"}),
        ("smart speaker", {"smart device"}),
        ("zoom", {"video call"}),
        ("facetime", {"video call"}),
        ("teams call", {"video call", "conference call"}),
        ("memory stick", {"removable media"}),
        ("pw", {"password"}),
        ("pwd", {"password"}),
        ("2fa", {"multi-factor authentication"}),
        ("phishy", {"phishing"}),
        ("ransomware", {"malware"}),
        ("bitlocker", {"encryption"}),
        ("public wifi", {"public network"}),
        ("wi-fi", {"wifi"}),
        ("gmail", {"personal email"}),
        ("hotmail", {"personal email"}),
        ("e-mail", {"email"}),
        ("dm", {"direct message", "contact"}),
        ("text", {"contact"}),
        ("ring", {"telephone call"}),
        ("follow", {"friend request"}),
        ("pic", {"photograph"}),
        ("vid", {"video"}),
        ("gdpr", {"data protection"}),
        ("shred", {"dispose"}),
        ("printout", {"paperwork"}),
        ("wfh", {"remote working"}),
        ("cafe", {"public place"}),
        ("train", {"public place"}),
        ("hotel", {"remote working"}),
        ("nicked", {"stolen"}),
        ("misplaced", {"lost"}),
        ("lunchtime", {"lunch break"}),
        ("weekend", {"working hours", "out of hours"}),
        ("evening", {"out of hours"}),
        ("holiday", {"annual leave"}),
        ("off sick", {"sick leave"}),
        ("payslip", {"salary"}),
        ("mileage", {"expenses"}),
        ("slag off", {"criticise", "defame"}),
        ("rant", {"criticise"}),
        ("libel", {"defamation"}),
        ("pile on", {"trolling"}),
        ("racist", {"discrimination"}),
        ("bully", {"bullying"}),
        ("porn", {"pornographic"}),
        ("wikipedia", {"online encyclopaedia"}),
        ("chatgpt", {"artificial intelligence"}),
        # Everyday words for how remote-working and use policies are worded.
        ("nip", {"unattended", "short periods"}),
        ("the loo", {"unattended", "short periods"}),
        ("a few minutes", {"short periods"}),
        ("sleep mode", {"shut down"}),
        ("overnight", {"long periods", "non-use"}),
        ("kitchen table", {"workspace", "home"}),
        ("lying around", {"clean desk"}),
        ("put away", {"clean desk"}),
        ("case papers", {"paperwork", "sensitive information"}),
        ("work papers", {"documents", "information"}),
        ("chuck in the bin", {"rubbish", "dispose"}),
        ("recycling", {"dispose"}),
        ("next to me", {"overlooked", "shoulder surfing"}),
        ("walk past", {"overlooked"}),
        ("could hear", {"eavesdropping"}),
        ("usual rules", {"policies", "procedures"}),
        ("temp", {"agency staff", "casual staff"}),
        ("old email address", {"no longer monitored"}),
        ("without signing my name", {"anonymous"}),
        ("unsigned", {"anonymous"}),
        ("mention that", {"advertise", "disclose", "identify"}),
        ("as my employer", {"identify", "affiliation"}),
        ("meetup", {"conference", "travelling"}),
        ("confidential", {"sensitive information"}),
        ("print at home", {"personal printer"}),
        ("home printer", {"personal printer"}),
        ("wirelessly", {"wifi"}),
        ("usb cable", {"usb", "connect directly"}),
        ("contact list", {"personal information"}),
        ("back in the office", {"return", "premises"}),
        ("in my car", {"unattended", "lost or stolen"}),
        ("look after", {"protect", "take care"}),
        ("borrow", {"lend"}),
        ("careful", {"vigilant", "wary"}),
        ("riskier", {"security risk"}),
        ("phishing", {"malicious", "security incident"}),
        ("weird", {"suspicious"}),
        ("claiming to be", {"impersonate"}),
        ("pdf", {"attachment"}),
        ("unencrypted", {"encryption", "appropriate security"}),
        ("medical", {"sensitive information"}),
        ("work phone", {"mobile phone"}),
        ("phone number", {"tel"}),
        ("who do i ring", {"tel"}),
        ("ring my mum", {"personal calls"}),
        ("login details", {"password"}),
        ("use my pw", {"sharing passwords"}),
        ("notebook", {"write down"}),
        ("save", {"store"}),
        ("sign up", {"register"}),
        ("shared drive", {"network"}),
        ("worksheet", {"materials"}),
        ("copy", {"copyright"}),
        ("cracked copy", {"unlicensed software"}),
        ("misusing", {"unacceptable use"}),
        ("not following", {"breach"}),
        ("keep breaking", {"consistently"}),
        ("follow the rules", {"comply", "apply"}),
        ("does this cover", {"apply"}),
        ("what counts as", {"means", "definition"}),
        ("not sure", {"in doubt", "seek advice"}),
        ("scared", {"afraid"}),
        ("straight away", {"immediately", "promptly"}),
        ("slang", {"tone", "professional language"}),
        ("profile pic", {"profile image", "avatar"}),
        ("twitter handle", {"handle"}),
        ("on private", {"privacy settings"}),
        ("finding me", {"public listings"}),
        ("post about", {"discuss"}),
        ("add my take", {"opinion", "commentary"}),
        ("bump up my title", {"misrepresent"}),
        ("hobby", {"passions"}),
        ("internal stuff", {"confidential information"}),
        ("roadmap", {"business plans"}),
        ("earnings", {"financial figures", "salary"}),
        ("the competition", {"competitor"}),
        ("love island", {"reality tv"}),
        ("free period", {"working hours"}),
        ("line manager", {"colleague"}),
        ("my kids", {"children", "family"}),
        ("days holiday", {"annual leave"}),
        ("car park", {"parking"}),
        ("canteen", {"cafeteria"}),
        ("arm's length body", {"alb"}),
        ("uk", {"united kingdom"}),
        ("colour", {"color"}),
        ("licence", {"license"}),
        ("organisation", {"organization"}),
    ],
)
def test_expected_expansions_exist(
    expansions: dict[str, dict[str, bool]], term: str, meanings: set[str]
) -> None:
    assert meanings <= set(expansions.get(term, {}))


@pytest.mark.parametrize(
    ("term", "not_meaning"),
    [
        # One-way groups stay one-way: the category does not mean each of its members.
        ("pupil", "year 9"),
        ("social media", "insta"),
        ("gambling", "poker"),
        ("parent", "mum"),
        ("equipment", "ipad"),
        ("smart device", "alexa"),
        ("dismissal", "sacked"),
        # Words that sound alike but must not meet.
        ("report", "press"),
        ("allowance", "allowed"),
        # Everyday phrases that once meant something they do not.
        ("in my car", "safeguarding"),
        ("in my car", "professional boundaries"),
        ("homework", "information"),
        ("record", "take photographs"),
        ("watched", "monitoring"),
        ("amend", "edit"),
        ("trust", "employer"),
        ("sign up", "acknowledge"),
        ("part-time", "working hours"),
        ("payslip", "identity theft"),
        # Meanings that stem to other words: "appearance" meets "appear as if",
        # a bare "leave" meets "leaving employment".
        ("wear", "appearance"),
        ("maternity leave", "leave"),
        ("holiday", "leave"),
    ],
)
def test_broad_words_do_not_expand_to_their_members(
    expansions: dict[str, dict[str, bool]], term: str, not_meaning: str
) -> None:
    assert not_meaning not in expansions.get(term, {})


def test_equals_is_a_one_way_synonym() -> None:
    # Slang says exactly what the formal word says; the formal word does not mean the slang.
    group = LexiconGroup(words=("porn", "xxx"), equals=("pornography",), means=("inappropriate",))
    table = Lexicon(groups=(group,)).expansions()
    assert table["porn"] == {"pornography": True, "inappropriate": False}
    assert "pornography" not in table


@pytest.mark.parametrize(
    "word", ["use", "work", "get", "make", "have", "do", "it", "time", "job", "thing", "question"]
)
def test_hub_words_are_not_entries(expansions: dict[str, dict[str, bool]], word: str) -> None:
    assert word not in expansions


# --- a bad file surfaces as KnowledgeError ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("groups:\n  - synonyms: [Insta, social media]\n", "lower-case"),
        ("groups:\n  - synonyms: [' insta', social media]\n", "lower-case"),
        ("groups:\n  - synonyms: ['social  media', insta]\n", "lower-case"),
        ("groups:\n  - synonyms: ['', insta]\n", "lower-case"),
        ("groups:\n  - synonyms: [999, emergency]\n", "string"),
        ("groups:\n  - synonyms: [no, refuse]\n", "string"),
        ("groups:\n  - synonyms: [insta]\n", "at least two"),
        ("groups:\n  - words: [insta]\n", "words with means or equals"),
        ("groups:\n  - equals: [insta]\n", "words with means or equals"),
        ("groups:\n  - synonyms: [a, b]\n    words: [c]\n    means: [d]\n", "not both"),
        ("groups:\n  - synonyms: [a, b\n", "not valid YAML"),
        ("groups:\n  - words: [a]\n    means: [b]\n    means: [c]\n", "duplicate key 'means'"),
    ],
)
def test_bad_lexicon_file_raises_knowledge_error(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=fragment) as raised:
        load_lexicon(path)
    assert str(path) in str(raised.value)
