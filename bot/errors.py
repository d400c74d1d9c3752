"""The exceptions PolicyBot raises, in one tree.

    PolicyBotError
    ├── ConfigError            settings missing or inconsistent (names the variable)
    ├── KnowledgeError         a knowledge folder fails to load or validate (names file and field)
    ├── IngestError            a document cannot be read or yields no clauses
    ├── QuestionError          a question is empty or too long to answer
    ├── CampaignError          a campaign request that cannot be carried out as asked
    │   ├── AudienceError      an audience that cannot be parsed or read
    │   └── ScheduleError      a reminder schedule or repeat interval that cannot be read
    └── StorageError           the database failed; nothing was half-written
        ├── StorageUnavailable the database is down, locked or unreachable; try again
        │   └── StorageBusy    another writer holds the lock and the caller would not wait
        └── ChainBroken        the acknowledgement hash chain does not verify

Adapters catch ``PolicyBotError`` at their boundary, log it with context and reply to the
person with a fixed, friendly sentence. Anything else is a bug.
"""

from __future__ import annotations


class PolicyBotError(Exception):
    """Base class: every error PolicyBot raises on purpose."""


class ConfigError(PolicyBotError):
    """A setting is missing or inconsistent. The message names the variable."""


class KnowledgeError(PolicyBotError):
    """A knowledge folder does not load or validate. The message names file and field."""


class IngestError(PolicyBotError):
    """A policy document cannot be read, or holds no clauses."""


class QuestionError(PolicyBotError):
    """A question cannot be answered as asked (empty, or over the length limit)."""


class CampaignError(PolicyBotError):
    """A campaign request that cannot be carried out as asked; the message says why."""


class AudienceError(CampaignError):
    """An audience that cannot be parsed or read. The message says what to write instead."""


class ScheduleError(CampaignError):
    """A reminder schedule or repeat interval that cannot be read; the message says why."""


class StorageError(PolicyBotError):
    """The database failed. Nothing was half-written."""


class StorageUnavailable(StorageError):
    """The database is down, locked or unreachable. The caller may try again later."""


class StorageBusy(StorageUnavailable):
    """Another writer holds the database's write lock and the caller chose not to wait."""


class ChainBroken(StorageError):
    """The acknowledgement hash chain does not verify."""
