"""Settings: the one place configuration enters PolicyBot.

Entry points (the CLI, the web process, the worker) build one ``Settings`` from the
environment and an optional ``.env`` file, then pass it down. Nothing in ``bot/`` reads
``os.environ``. Every variable is listed in ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Every setting PolicyBot reads, with its environment variable.

    Example::

        settings = Settings()                      # environment and .env
        settings = Settings(DATABASE_URL="sqlite:///tmp/x.db")   # explicit, for tests
    """

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("policybot", appauthor=False)),
        validation_alias="POLICYBOT_DATA_DIR",
    )
    knowledge_dir: Path | None = Field(default=None, validation_alias="POLICYBOT_KNOWLEDGE_DIR")
    env: Literal["production", "development"] = Field(
        default="production", validation_alias="POLICYBOT_ENV"
    )
    port: int = Field(default=3978, validation_alias="PORT", ge=0, le=65535)
    public_url: str | None = Field(default=None, validation_alias="POLICYBOT_PUBLIC_URL")

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")

    microsoft_app_id: str | None = Field(default=None, validation_alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(
        default=None, validation_alias="MICROSOFT_APP_PASSWORD"
    )
    microsoft_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        default="MultiTenant", validation_alias="MICROSOFT_APP_TYPE"
    )
    microsoft_app_tenant_id: str | None = Field(
        default=None, validation_alias="MICROSOFT_APP_TENANT_ID"
    )

    admins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="POLICYBOT_ADMINS"
    )
    hr: Annotated[tuple[str, ...], NoDecode] = Field(default=(), validation_alias="POLICYBOT_HR")
    slack_admins_are_admins: bool = Field(
        default=False, validation_alias="POLICYBOT_SLACK_ADMINS_ARE_ADMINS"
    )

    secret_key: SecretStr | None = Field(default=None, validation_alias="POLICYBOT_SECRET_KEY")
    retention_days: int = Field(default=180, validation_alias="POLICYBOT_RETENTION_DAYS", ge=1)
    trends_min_askers: int = Field(default=5, validation_alias="POLICYBOT_TRENDS_K", ge=5)

    @field_validator("admins", "hr", mode="before")
    @classmethod
    def _split_identities(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "microsoft_app_password",
        "secret_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "database_url", "microsoft_app_id", "microsoft_app_tenant_id", "public_url", mode="before"
    )
    @classmethod
    def _blank_str_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def development(self) -> bool:
        """True when the operator allowed the unauthenticated local modes."""
        return self.env == "development"

    def require(self, *names: str) -> None:
        """Stop start-up with one sentence naming the first missing variable.

        ``names`` are environment variable names, e.g. ``require("SLACK_BOT_TOKEN")``.
        """
        for name in names:
            field = _FIELD_BY_ENV.get(name)
            if field is None:
                raise ConfigError(f"Unknown setting {name}.")
            if getattr(self, field) is None:
                raise ConfigError(f"{name} is not set: add it to the environment or to .env.")


_FIELD_BY_ENV = {
    str(info.validation_alias): name
    for name, info in Settings.model_fields.items()
    if isinstance(info.validation_alias, str)
}
