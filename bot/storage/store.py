"""``Store``: the one object per process through which PolicyBot touches its database.

Built once from ``Settings`` in an entry point and passed down; safe to share between
threads (each call takes its own pooled connection and transaction). Every method either
finishes its transaction or raises ``StorageUnavailable``/``StorageError`` with nothing
half-written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from bot.config import Settings
from bot.errors import ConfigError, StorageError
from bot.knowledge import Policy
from bot.storage import acknowledgements, conversations, ledger, questions, versions
from bot.storage.acknowledgements import (
    Acknowledgement,
    AcknowledgementRequest,
    AckResult,
    ExportResult,
    VerifyResult,
)
from bot.storage.conversations import StoredReference
from bot.storage.database import DEFAULT_BUSY_TIMEOUT, Database, open_database, resolve_url
from bot.storage.group_commit import GroupCommit
from bot.storage.questions import LoggedQuestion
from bot.storage.versions import StoredPolicyVersion

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SECRET_FILE = "secret_key"


class Store:
    """PolicyBot's storage: question log, acknowledgements, policy versions, ledger.

    Example::

        store = Store.from_settings(Settings())
        store.upgrade()
        log_id = store.log_question(platform="slack", user="U123", workspace="T1",
                                    question=text, is_known=bot.is_known, answered=True,
                                    clauses=[("staff-aup", "social-media-3", 7.2)])
    """

    def __init__(self, db: Database, *, secret: bytes, retention_days: int) -> None:
        self.db = db
        self._secret = secret
        self._retention_days = retention_days
        # Concurrent questions share one transaction and one commit (see group_commit.py).
        self._question_log: GroupCommit[questions.Entry, int | None] = GroupCommit(
            db, questions.insert_claimed, durable=False, name="question-log"
        )
        # Many new conversations at once (a campaign, a busy morning) share commits too.
        self._reference_log: GroupCommit[dict[str, Any], None] = GroupCommit(
            db, conversations.write_rows, name="references"
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> Store:
        """Open the database named by ``settings`` (an SQLite file in ``data_dir`` by default).

        ``busy_timeout`` (seconds) bounds how long a write waits for a lock. Raises
        ``ConfigError`` naming ``POLICYBOT_SECRET_KEY`` when a production database has no
        secret; an SQLite file is opened at once so bad pragmas stop start-up.
        """
        url = resolve_url(settings)
        secret = _secret_key(settings)
        store = cls(
            open_database(url, busy_timeout=busy_timeout),
            secret=secret,
            retention_days=settings.retention_days,
        )
        if store.db.dialect == "sqlite":
            store.check()
        return store

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``)."""
        config = alembic_config()
        with self.db.write() as conn:
            if self.db.dialect == "postgresql":
                # Two release steps at once would race on CREATE TABLE; take turns instead.
                conn.execute(
                    text(
                        "SELECT pg_advisory_xact_lock(hashtext('policybot.migrate.' || "
                        "current_schema()))"
                    )
                )
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers (for ``/healthz``)."""
        self.db.check()

    def close(self) -> None:
        """Commit the questions and references still queued, then release every pooled
        connection."""
        self._question_log.close()
        self._reference_log.close()
        self.db.close()

    # Question log ------------------------------------------------------------------

    def log_question(
        self,
        *,
        platform: str,
        user: str | None,
        workspace: str | None,
        question: str,
        is_known: Callable[[str], bool],
        answered: bool,
        clauses: Sequence[tuple[str, str, float]],
        when: datetime | None = None,
    ) -> int:
        """Log one question, masked and pseudonymised first; return its id for feedback.

        ``clauses`` are ``(policy_id, clause_id, score)``, best first. Only the ISO week
        and the day (for retention) of ``when`` are kept. Waits until the row is committed.
        """
        log_id = self.submit_question(
            platform=platform,
            user=user,
            workspace=workspace,
            question=question,
            is_known=is_known,
            answered=answered,
            clauses=clauses,
            when=when,
        ).result()
        if log_id is None:  # only a claimed delivery is ever refused
            raise StorageError("The question log refused a question without a claim.")
        return log_id

    def submit_question(
        self,
        *,
        platform: str,
        user: str | None,
        workspace: str | None,
        question: str,
        is_known: Callable[[str], bool],
        answered: bool,
        clauses: Sequence[tuple[str, str, float]],
        claim: str | None = None,
        when: datetime | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Future[int | None]:
        """Queue a question for the log without waiting; masked and pseudonymised first.

        The future holds the row id once the row is committed (together with whatever
        other questions were waiting), or ``StorageError`` if that commit failed. With
        ``claim`` (a delivery key, as ``claim_delivery`` takes) the key is claimed in the
        same transaction; if it was already claimed nothing is logged and the future holds
        None. ``loop``: an async caller's running loop, as ``GroupCommit.submit`` takes it.
        Raises ``StorageError`` after ``close``.
        """
        row = questions.prepare(
            self._secret,
            platform=platform,
            user=user,
            workspace=workspace,
            question=question,
            is_known=is_known,
            answered=answered,
            clauses=clauses,
            when=when,
        )
        return self._question_log.submit(questions.Entry(row, claim), loop=loop)

    def record_feedback(self, log_id: int, helpful: bool) -> None:
        """Record helpful / not helpful for a logged question."""
        questions.feedback(self.db, log_id, helpful)

    def prune(self, now: datetime | None = None) -> int:
        """Delete questions older than the retention period; return how many."""
        return questions.prune(self.db, self._retention_days, now)

    def logged_questions(self, since_week: str | None = None) -> list[LoggedQuestion]:
        """The question log (masked, pseudonymous), oldest first, for trends."""
        return questions.rows(self.db, since_week)

    # Acknowledgements --------------------------------------------------------------

    def record_acknowledgement(self, ack: AcknowledgementRequest) -> AckResult:
        """Append one acknowledgement, durably; ``recorded=False`` if it was already there."""
        return acknowledgements.record(self.db, ack)

    def verify_chain(self) -> VerifyResult:
        """Walk the acknowledgement chain; name the first altered, deleted or reordered row."""
        return acknowledgements.verify(self.db)

    def export_acknowledgements(self, path: Path) -> ExportResult:
        """Write every acknowledgement and the chain head to a CSV file for an auditor."""
        return acknowledgements.export(self.db, path)

    def acknowledgements_for(
        self, platform: str, workspace: str, user_id: str
    ) -> list[Acknowledgement]:
        """Every acknowledgement one person made, oldest first."""
        return acknowledgements.for_user(self.db, platform, workspace, user_id)

    def latest_acknowledged_version(
        self, platform: str, workspace: str, user_id: str, policy_id: str
    ) -> str | None:
        """The version of ``policy_id`` this person acknowledged last, or None."""
        return acknowledgements.latest_version(self.db, platform, workspace, user_id, policy_id)

    # Policy versions ---------------------------------------------------------------

    def save_policy_version(self, policy: Policy) -> bool:
        """Store this policy version and its clauses; False if already stored."""
        return versions.save(self.db, policy)

    def policy_versions(self, policy_id: str) -> list[StoredPolicyVersion]:
        """Every stored version of a policy, oldest first."""
        return versions.versions(self.db, policy_id)

    # Conversation references (proactive messages) -----------------------------------

    def save_conversation_reference(
        self, platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
    ) -> None:
        """Insert or refresh where a person can be messaged (a Bot Framework reference)."""
        self.submit_conversation_reference(platform, tenant, user_id, reference).result()

    def submit_conversation_reference(
        self, platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
    ) -> Future[None]:
        """Queue a reference for the reference log's next commit; done once committed.

        Raises ``StorageError`` at once for a reference that cannot be stored.
        """
        return self._reference_log.submit(conversations.row(platform, tenant, user_id, reference))

    def conversation_references(
        self, platform: str, tenant: str | None = None
    ) -> list[StoredReference]:
        """Every stored conversation reference of a platform (and tenant, if given)."""
        return conversations.references(self.db, platform, tenant)

    # Idempotency ledger ------------------------------------------------------------

    def claim_delivery(self, key: str, ttl: timedelta = ledger.DEFAULT_TTL) -> bool:
        """True the first time a delivery key is claimed, False for a repeat within ``ttl``."""
        return ledger.claim(self.db, key, ttl)


def alembic_config() -> Config:
    """Alembic's configuration, built in code: no ini file, works from any directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _secret_key(settings: Settings) -> bytes:
    """The pseudonym key: configured, or (locally) generated once and kept in ``data_dir``."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode("utf-8")
    if settings.database_url is not None and not settings.development:
        raise ConfigError(
            "POLICYBOT_SECRET_KEY is not set: with DATABASE_URL set it must be, so askers' "
            "pseudonyms stay stable and secret; add it to the environment or to .env."
        )
    return _local_secret(settings.data_dir / SECRET_FILE)


def _local_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write aside, then link into place: the file appears complete or not at all, and a
        # second process starting at the same moment keeps the first one's key.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(draft, path)
                log.info("generated a pseudonym key in %s", path)
            except FileExistsError:
                pass
        finally:
            draft.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it, or set POLICYBOT_SECRET_KEY.")
    return key.encode("ascii")
