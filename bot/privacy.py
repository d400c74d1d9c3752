"""What PolicyBot may keep about a question and who asked it.

Two rules, both applied before anything reaches the database or a log:

* ``mask_question`` keeps only the words PolicyBot's knowledge already knows (the policy
  vocabulary and the lexicon) and replaces everything else with ``[..]``. Names, e-mail
  addresses, phone numbers, postcodes, class names and dates cannot be stored because they
  are never in the knowledge; the few that are ordinary words too ("Will", "May", "Rose")
  are masked when written with a capital inside a sentence.
* ``pseudonym`` turns a platform user id into a keyed HMAC-SHA256 that can only be used to
  count distinct askers. The key changes every year, so pseudonyms from different years
  cannot be linked.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
from collections.abc import Callable

from pydantic import SecretStr

MASK = "[..]"

# A chunk that reaches for one of these is contact detail, not policy language.
_EMAIL_OR_HANDLE = r"\S*@\S*"
_URL = r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)\S+"
# Six or more digits with at most a few separators between them: phone numbers, including
# the ones written in groups ("07700 900123", "+44 (0)20 7946 0958").
_PHONE = r"\+?\(?\d(?:[ \t().\-/]{0,3}\d){5,}\)?"
_TOKEN = re.compile(rf"{_EMAIL_OR_HANDLE}|{_URL}|{_PHONE}|\S+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SUSPECT = re.compile(r"[\d@_#]|://|[^\W\d_]\.[^\W\d_]{2,}")
_EDGE_PUNCTUATION = "\"'“”‘’()[]{}<>.,;:!?*"
_SENTENCE_END = (".", "!", "?", ":")
_SMALL_NUMBER_DIGITS = 2
_TITLES = frozenset("mr mrs ms miss mx dr sir dame prof".split())

# Contractions are never personal data, whatever the knowledge vocabulary holds.
_CONTRACTIONS = frozenset(
    "i'm i've i'd i'll you're you've you'd you'll we're we've we'd we'll they're they've "
    "they'd they'll he's she's it's that's there's what's who's where's how's let's "
    "isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't "
    "shouldn't mustn't haven't hasn't hadn't needn't mightn't".split()
)

# Given names, surnames and street words that are also everyday words. Written with a
# capital inside a sentence ("can I text Will's mum", "5 Cherry Tree Close") they are far
# more likely a person or an address than the word.
_NAMES_THAT_ARE_WORDS = frozenset(
    "will grace may mark bill rose faith hope joy summer april june august amber ruby jack "
    "pat sue frank drew dean rob ray guy sky holly iris lily daisy ivy jade pearl violet "
    "dawn eve autumn heather olive poppy robin sunny victor penny sandy willow hazel river "
    "brook chase hunter grant miles norman earl reed cliff glen heath hope honey kit "
    "smith baker cook taylor mason carter turner hill wood green white brown black young "
    "king wright hall walker clark cooper ward bell price fisher butler porter long little "
    "page parker marsh lane rivers bishop knight archer gardner fox wolf bird lamb nash "
    "stone field fields banks best day north west south east cross church "
    "road street avenue lane close drive way court crescent grove place gardens terrace "
    "park square mews row walk view rise green".split()
)


def mask_question(text: str, is_known: Callable[[str], bool]) -> str:
    """Return ``text`` with every word PolicyBot does not know replaced by ``[..]``.

    ``is_known`` answers for one case-folded word (the knowledge vocabulary plus the
    lexicon). E-mail addresses, URLs, @handles, phone numbers and any token holding a
    digit, ``@``, ``_`` or ``#`` are masked whatever ``is_known`` says; a bare number is
    kept only when it is small (one or two digits, like "year 9") and known. A capitalised
    word straight after a title ("Ms") or a masked name is taken for a surname and masked
    even if known. Punctuation is dropped and adjacent masks merge, so the result cannot
    even show how long a name was. Example::

        >>> known = {"can", "i", "text", "mum", "on"}.__contains__
        >>> mask_question("can I text Jayden's mum on 07700 900123?", known)
        'can I text [..] mum on [..]'
    """
    masker = _Masker(is_known)
    for match in _TOKEN.finditer(text):
        masker.add_chunk(match.group())
    return " ".join(masker.pieces)


class _Masker:
    """Walks a question chunk by chunk, remembering what the last words were."""

    def __init__(self, is_known: Callable[[str], bool]) -> None:
        self.is_known = is_known
        self.pieces: list[str] = []
        self.sentence_start = True
        self.after_name = False  # the last word was a title or a masked name

    def add_chunk(self, chunk: str) -> None:
        if chunk.isalpha():  # most chunks: one bare word, nothing suspect, no punctuation
            self._add_word(chunk, self.sentence_start)
            return
        core = chunk.strip(_EDGE_PUNCTUATION)
        if _SUSPECT.search(chunk):
            small = core.isdecimal() and len(core) <= _SMALL_NUMBER_DIGITS
            self._emit(core if small and self.is_known(core) else MASK)
            self.after_name = False
        else:
            for index, match in enumerate(_WORD.finditer(chunk)):
                self._add_word(match.group(), self.sentence_start and index == 0)
        if core.casefold() in _TITLES:
            self.after_name = True  # "Ms." does not end a sentence
        elif chunk.endswith(_SENTENCE_END):
            self.sentence_start, self.after_name = True, False
        elif chunk[-1:] in _EDGE_PUNCTUATION:
            self.after_name = False

    def _add_word(self, word: str, first_of_sentence: bool) -> None:
        capitalised = word[0].isupper() and not first_of_sentence
        keep = not (capitalised and self.after_name) and _is_known_word(
            word, self.is_known, first_of_sentence
        )
        self._emit(word if keep else MASK)
        self.after_name = word.casefold() in _TITLES or (not keep and word[0].isupper())

    def _emit(self, piece: str) -> None:
        self.sentence_start = False
        if piece == MASK and self.pieces and self.pieces[-1] == MASK:
            return
        self.pieces.append(piece)


def _is_known_word(word: str, is_known: Callable[[str], bool], first_of_sentence: bool) -> bool:
    folded = word.casefold().replace("’", "'")
    if folded in _CONTRACTIONS:
        return True
    base = folded
    if not is_known(folded):
        if folded.endswith("'s") and is_known(folded[:-2]):
            base = folded[:-2]
        elif folded.endswith("s'") and is_known(folded[:-1]):
            base = folded[:-1]
        else:
            return False
    capitalised = word[0].isupper()
    return not (capitalised and not first_of_sentence and base in _NAMES_THAT_ARE_WORDS)


def pseudonym(
    secret: SecretStr | str | bytes,
    platform: str,
    workspace: str | None,
    user: str,
    year: int,
) -> str:
    """A keyed, year-scoped pseudonym for one platform user: 64 hex characters.

    HMAC-SHA256 over (platform, workspace, user), keyed with a key derived from ``secret``
    and ``year``: stable within a year so distinct askers can be counted, unlinkable across
    years and useless without the secret. Never reversible to the platform's user id.
    """
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    key_material = secret.encode("utf-8") if isinstance(secret, str) else secret
    # JSON keeps the fields apart, so ("a", "bc") and ("ab", "c") cannot collide.
    message = json.dumps([platform, workspace or "", user], ensure_ascii=False)
    return hmac.new(_year_key(key_material, year), message.encode("utf-8"), "sha256").hexdigest()


@functools.lru_cache(maxsize=8)
def _year_key(key_material: bytes, year: int) -> bytes:
    """The pseudonym key of one year: derived once, not once a question."""
    return hmac.digest(key_material, f"policybot/pseudonym/{year}".encode(), "sha256")
