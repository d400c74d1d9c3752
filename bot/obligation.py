"""Obligation: what a clause asks of staff, read from its own wording.

Policies signal obligation with a small vocabulary ("must not", "must", "are advised to",
"may"). The first sentence that uses any of it decides, because policies lead with the rule
and follow with reasons ("Caution is advised when ... Staff must not ..." is advice about
inviting colleagues). Within a sentence the negated forms are tried before the positive
ones ("must not" before "must", "not allowed" before "allowed"), then the stronger before
the weaker. A leading condition ("If you are in doubt, ...") is set aside first, so the
words of the condition do not count as the rule.
"""

from __future__ import annotations

import re

from bot.knowledge import Obligation

_SUBJECT = (
    r"(?:you|staff|staff members|members|employees|team members|colleagues|users|"
    r"contractors|workers|managers|teachers|they|we|everyone|anyone|people|pupils|students)"
)
_POSSIBILITY = (
    r"(?:be|have|need|want|wish|find|feel|receive|notice|see|get|already|also|well|sometimes|"
    r"experience|encounter|come|become|lead|result|cause|affect|seem|appear|not be|vary)\b"
)

# Tried in this order; the first group with a match gives the obligation of a sentence.
_RULES: tuple[tuple[Obligation, re.Pattern[str]], ...] = tuple(
    (obligation, re.compile("|".join(patterns)))
    for obligation, patterns in (
        (
            Obligation.ADVISED,  # a negated discouragement is encouragement
            (r"\b(?:do not|don't|never) (?:hesitate|be afraid)\b",),
        ),
        (
            Obligation.PERMITTED,  # a requirement negated is an option, not a ban
            (
                r"(?:\bnot|n't) (?:required|obliged|necessary)\b",
                r"\b(?:do|does|did)(?: not|n't) (?:have|need) to\b",
                r"\bneed not\b",
            ),
        ),
        (
            Obligation.PROHIBITED,
            (
                r"\bmust(?: not|n't| never)\b",
                r"\b(?:should|shall|may|will)(?: not|n't| never)\b",
                r"(?<!that )(?<!which )(?<!who )\b(?:do not|don't)\b",
                r"\b(?:never|under no circumstances|refrain from)\b",
                r"\b(?:is|are|be) (?:strictly )?(?:forbidden|prohibited|banned|not to be)\b",
                r"\bprohibited\b|\bforbidden\b",
                r"(?:\bnot|n't) (?:allowed|permitted|authori[sz]ed)\b",
                r"\b(?:does|do)(?: not|n't) (?:permit|allow|accept)\b",
                rf"(?<!so that )\b{_SUBJECT} (?:cannot|can't|can not)\b",
                r"\b(?:is|are|it's|be)(?: \w+)? (?:unacceptable|inappropriate|impermissible)\b",
                r"\b(?:is|are|it's|be)(?: \w+)? not (?:acceptable|appropriate|okay|ok)\b",
                r"\b(?:regarded|treated|dealt with|considered) as (?:an? )?(?:\w+ )?"
                r"(?:act of )?(?:gross )?misconduct\b",
                r"(?<!to )\bavoid(?:ed|ing)?\b",
            ),
        ),
        (
            Obligation.REQUIRED,
            (
                r"\bmust\b|\bshall\b",
                r"\b(?:is|are|be) (?:required|obliged)\b|\brequired to\b",
                r"\b(?:you|staff|members|employees|everyone|colleagues|workers) (?:is|are) "
                r"expected to\b|\bit is expected that\b",
                r"\b(?:need|needs|have|has) to\b|\b(?:responsible|accountable) for\b",
                r"\b(?:can|may) only\b|\bmandatory\b|\bcompulsory\b|\bit is essential\b",
                r"^always\b|\b(?:should|will|to|must) always\b|\bat all times\b",
                rf"^ensure\b|\b{_SUBJECT} (?:should )?ensure\b",
                r"\bto be (?:used|followed|kept|applied|adopted|observed|maintained|worn)\b",
            ),
        ),
        (
            Obligation.ADVISED,
            (
                r"\badvis(?:ed|able)\b|\badvise\b|\brecommend(?:ed|s|ation)?\b",
                r"\bcaution\b|\bcautious\b|\ba good idea\b|\bgood practice\b|\bbest to\b",
                r"\bshould\b|\bought to\b|\btry to\b|\bencouraged?\b|\bseek advice\b",
                r"\bbe (?:careful|aware|wary|mindful|vigilant|thoughtful|sensible)\b",
                r"\btake care\b|^consider\b|\b(?:please|should) consider\b",
                r"^think (?:about|before)\b",
            ),
        ),
        (
            Obligation.PERMITTED,
            (
                rf"\b{_SUBJECT}(?: \w+)? (?:may|can)\b(?! {_POSSIBILITY})",
                r"\b(?:is|are|it's|be)(?: \w+)? (?:allowed|permitted|acceptable|fine|okay|ok)\b",
                r"\b(?:allowed|permitted) to\b|\bfeel free\b|\b(?:free|welcome) to\b|\bup to you\b",
                r"\b(?:enables?|allows?|lets?) you to\b",
            ),
        ),
        (
            Obligation.REQUIRED,  # a bare instruction, when nothing above says more
            (
                r"^(?:please )?(?:keep|lock|protect|follow|store|report|encrypt|check|"
                r"make sure|log (?:off|out)|shut down|back up)\b",
            ),
        ),
    )
)

# Lead-in wording that marks a whole list ("Examples of things to avoid include:").
_LEAD_IN_PROHIBITED = re.compile(
    r"\bavoid\b|\bexamples of (?:\w+ )*?unacceptable\b|\bunacceptable\b.*\binclud"
)
_CONDITION = re.compile(
    r"^(?:however,? |but |and )?(?:if|when|where|unless|whilst|while|once|in case)\b[^,]{0,160},\s*"
)
_CONDITION_MORE = re.compile(r"^(?:or|and)\b[^,]{0,160},\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(*_]*[A-Z0-9])")


def classify_obligation(text: str, context: str | None = None) -> Obligation:
    """The obligation a clause's wording expresses, optionally under a list lead-in.

    ``context`` is the lead-in a list item appears under ("**Never:**", "Examples of
    things to avoid include:", "Always:"). Items under a prohibiting lead-in are
    prohibited; items under a requiring one are required unless they themselves forbid;
    otherwise the item's own wording decides, falling back to the lead-in's.

    >>> classify_obligation("Staff **must not** share their personal contact details.")
    <Obligation.PROHIBITED: 'prohibited'>
    >>> classify_obligation("Leave equipment unattended.", context="**Never:**")
    <Obligation.PROHIBITED: 'prohibited'>
    """
    own = _classify(text)
    if context is None:
        return own
    lead = _classify(context, lead_in=True)
    if lead is Obligation.PROHIBITED:
        return Obligation.PROHIBITED
    if lead is Obligation.REQUIRED:
        return own if own is Obligation.PROHIBITED else Obligation.REQUIRED
    if lead is Obligation.PERMITTED and own is Obligation.INFORMATION:
        return Obligation.PERMITTED
    if lead is Obligation.ADVISED and own in (Obligation.PERMITTED, Obligation.INFORMATION):
        return Obligation.ADVISED
    return own


def _classify(text: str, *, lead_in: bool = False) -> Obligation:
    for sentence in _sentences(text):
        if lead_in and _LEAD_IN_PROHIBITED.search(sentence):
            return Obligation.PROHIBITED
        for obligation, pattern in _RULES:
            if pattern.search(sentence):
                return obligation
    return Obligation.INFORMATION


def _sentences(text: str) -> list[str]:
    """Sentences in lower case, emphasis and curly quotes removed, conditions set aside."""
    plain = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    plain = re.sub(r"[*_`]+", "", plain)
    plain = " ".join(plain.split())
    sentences = []
    for sentence in _SENTENCE_END.split(plain):
        lowered = sentence.casefold().strip(" \"'()")
        main = _CONDITION.sub("", lowered, count=1)
        if main != lowered:  # "if A, or B, then ...": the condition runs on past "or B,"
            main = _CONDITION_MORE.sub("", main, count=1)
        sentences.append(main)
    return sentences
