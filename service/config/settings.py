"""Every setting the service reads, in one place: ``SUBLEDGER_*`` environment variables.

Read and checked once, when a process starts (``load_settings``): a bad value stops it with
one line per bad variable, before a store is opened or a request served. README's
configuration table is made from this class (``configuration_table``; a test keeps them
equal). Relative paths are resolved against ``SUBLEDGER_DATA_DIR`` (default: the current
folder), so a command run from another folder opens the same store when it is set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from adapters.store import StoreMisconfigured, StoreSettings, parse_postgres_url
from adapters.webhook_destinations import Destinations, networks
from domain.errors import InvalidValue
from domain.retention import Retention
from domain.seller import Seller
from service.config.public_url import DEFAULT_PUBLIC_URL, checked_public_url
from service.config.seller import DEMO, SellerMisconfigured, seller_from_environ
from service.config.seller import PREFIX as SELLER_PREFIX

PREFIX = "SUBLEDGER_"
THREE_DAYS = 3 * 24 * 3600.0


class SettingsInvalid(ValueError):
    """Some variables have bad values: one line per variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


OnOff = Annotated[Literal["on", "off"], BeforeValidator(_lower)]
Seconds = Annotated[float, Field(gt=0), AfterValidator(_finite)]
Text = Annotated[str, BeforeValidator(_stripped)]


def _public_url(value: str) -> str:
    return checked_public_url(value or DEFAULT_PUBLIC_URL)


def _postgres_url(value: str) -> str:
    if value:
        try:
            parse_postgres_url(value)
        except StoreMisconfigured as error:
            raise ValueError(str(error).removeprefix("SUBLEDGER_DATABASE_URL ")) from None
    return value


def _year_end(value: str) -> str:
    month, _, day = value.partition("-")
    if not (month.isdigit() and day.isdigit()):
        raise ValueError("must be a month and day, MM-DD (e.g. 12-31)")
    try:
        Retention(year_end_month=int(month), year_end_day=int(day))
    except InvalidValue as error:
        raise ValueError(str(error)) from None
    return value


def _networks(value: str) -> str:
    networks(value)
    return value


class Settings(BaseSettings):
    """The service's configuration. Each field is ``SUBLEDGER_<NAME>``; its description is
    README's (so say what it does, then what unset means)."""

    _reads_environment: ClassVar[bool] = True
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(
        Path("."),
        description="the folder relative paths below are resolved against (the store, the "
        "signing key, the demo's tokens); commands name the store they open",
    )
    db: Path = Field(
        Path("var/subledger.db"),
        description="SQLite file of the embedded store (its read models go in "
        "`<name>-read.db` beside it); a missing folder is made 0700, new files 0600, and "
        "SQLite zeroes what it deletes (`secure_delete`)",
    )
    database_url: Annotated[Text, AfterValidator(_postgres_url)] = Field(
        "",
        description="`postgresql://user:password@host:port/db[?schema=name]`: PostgreSQL "
        "instead of the SQLite file",
    )
    clock: Annotated[Literal["system", "test"], BeforeValidator(_lower)] = Field(
        "system",
        description="`test`: run on the store's test clock (as `serve --test-clock`; ADR 0015)",
    )
    projections: OnOff = Field(
        "on", description="`off`: `serve` leaves the read models to `subledger projections run`"
    )
    projections_runner: Annotated[Literal["process", "thread"], BeforeValidator(_lower)] = Field(
        "process",
        description="where `serve` runs the projection runner: `process`, a child process of "
        "its own, restarted if it dies, so requests never wait on projection work; `thread`, "
        "a thread of each server process (ADR 0005)",
    )
    signing_key: Path = Field(
        Path("var/signing-key.pem"),
        description="Ed25519 key that signs the hash chain's digests (made on first use, mode "
        "0600; refused if others may read it; back it up)",
    )
    public_url: Annotated[Text, AfterValidator(_public_url)] = Field(
        DEFAULT_PUBLIC_URL,
        description="the base URL clients reach the service at: share links, sign-in links "
        "and the event schemas' URIs (`dataschema`, `$id`) are built from it, never from a "
        "request's `Host`; unset, `serve` uses where it listens (`--host`, `--port`)",
    )
    sse_heartbeat_seconds: Seconds = Field(
        15.0, description="silence on an event stream before a heartbeat comment"
    )
    sse_max_seconds: Seconds = Field(
        900.0,
        description="an event stream's lifetime; clients then resume with `Last-Event-ID`",
    )
    sse_poll_seconds: Seconds = Field(
        0.25, description="how often open event streams look for new events"
    )
    sse_max_per_token: int = Field(
        4,
        gt=0,
        description="event streams one token may hold open at once in a process; the next "
        "answers 429",
    )
    limit_concurrency: int = Field(
        256,
        gt=0,
        description="connections and requests a `serve` process takes at once; past it, 503 "
        "at once",
    )
    header_timeout_seconds: Seconds = Field(
        10.0,
        description="a client must send a request's headers within this long, or `serve` "
        "closes the connection",
    )
    forwarded_allow_ips: Text = Field(
        "",
        description="proxies whose `X-Forwarded-For` `serve` believes (addresses, networks or "
        "`*`); unset: none, the peer's address is the client's",
    )
    billing_interval: Annotated[float, Field(ge=0), AfterValidator(_finite)] = Field(
        3600.0, description="seconds between billing runs in `serve`; `0`: no billing runs there"
    )
    renewal_reminder_days: int = Field(
        30,
        ge=0,
        description="days before a term ends that its renewal reminder goes; `0`: none",
    )
    retention_years: int = Field(
        10,
        ge=1,
        le=100,
        description="years after the end of its financial year that an invoice keeps its "
        "buyer's identity; then its retention key is destroyed (ADR 0027)",
    )
    financial_year_end: Annotated[Text, AfterValidator(_year_end)] = Field(
        "12-31", description="the last day of the financial year, `MM-DD`"
    )
    webhooks: OnOff = Field(
        "on", description="`off`: `serve` leaves webhook delivery to `subledger webhooks run`"
    )
    webhook_allowed_networks: Annotated[Text, AfterValidator(_networks)] = Field(
        "",
        description="networks (comma-separated, e.g. `10.1.2.0/24,127.0.0.1/32`) webhooks may "
        "be sent to besides public addresses; loopback, private, link-local, multicast and "
        "reserved ones are refused otherwise",
    )
    webhook_timeout: Seconds = Field(
        10.0, description="seconds a webhook delivery may take to connect, write and read each"
    )
    webhook_backoff_base: Seconds = Field(
        5.0, description="seconds before the first retry of a failed delivery (then doubling)"
    )
    webhook_backoff_cap: Seconds = Field(
        3600.0, description="the longest wait between two attempts of one delivery"
    )
    webhook_disable_after_failures: int = Field(
        200, gt=0, description="failed attempts in a row after which an endpoint is disabled"
    )
    webhook_give_up_after: Seconds = Field(
        THREE_DAYS,
        description="seconds an endpoint may keep failing before it is disabled (with the "
        "count above, whichever comes first)",
    )
    webhook_batch_size: int = Field(
        100, gt=0, description="events read from the log at a time, per endpoint"
    )
    webhook_concurrency: int = Field(
        4, gt=0, description="endpoints served at once (each one request at a time)"
    )
    webhook_poll: Seconds = Field(
        1.0, description="the longest wait of the webhook worker for new events without a wake-up"
    )
    nats_url: Text = Field(
        "nats://127.0.0.1:4222", description="the NATS server of `subledger relay nats`"
    )
    log_format: Annotated[Literal["auto", "json", "console"], BeforeValidator(_lower)] = Field(
        "auto",
        description="`json`: one JSON object per line; `console`: for people; `auto`: console "
        "when stderr is a terminal, else JSON",
    )
    log_level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower)] = (
        Field("info", description="the least severe log records written")
    )

    # The seller (service/config/seller.py): each unset one takes the demo seller's value.
    seller_legal_name: Text = Field(
        DEMO["LEGAL_NAME"], description="the seller's legal name (BT-27)"
    )
    seller_address_line1: Text = Field(DEMO["ADDRESS_LINE1"], description="the seller's address")
    seller_address_line2: Text = Field(DEMO["ADDRESS_LINE2"], description="its second line")
    seller_postal_code: Text = Field(DEMO["POSTAL_CODE"], description="its postal code")
    seller_city: Text = Field(DEMO["CITY"], description="its city")
    seller_country: Text = Field(DEMO["COUNTRY"], description="its country (ISO 3166 alpha-2)")
    seller_email: Text = Field(DEMO["EMAIL"], description="the seller's invoicing e-mail")
    seller_siren: Text = Field(DEMO["SIREN"], description="a French seller's SIREN")
    seller_siret: Text = Field(DEMO["SIRET"], description="and its establishment's SIRET")
    seller_vat_number: Text = Field(DEMO["VAT_NUMBER"], description="the seller's VAT number")
    seller_iban: Text = Field(DEMO["IBAN"], description="the IBAN transfers are paid to")
    seller_bic: Text = Field(DEMO["BIC"], description="its BIC")
    seller_legal_form: Text = Field(
        DEMO["LEGAL_FORM"], description="legal form, capital and registry, as invoices show them"
    )
    seller_penalty_rate: Text = Field(
        DEMO["PENALTY_RATE"], description="yearly late-payment penalty rate, a fraction"
    )
    seller_vat_franchise: Text = Field(
        DEMO["VAT_FRANCHISE"], description="`true` under art. 293 B du CGI: no VAT"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment only (no .env file); a given mapping only (_FromMapping)
        return (init_settings, env_settings) if cls._reads_environment else (init_settings,)

    @model_validator(mode="after")
    def _a_seller(self) -> Settings:
        try:
            self.seller()
        except SellerMisconfigured as error:
            raise ValueError(str(error)) from None
        return self

    def seller(self) -> Seller:
        """Who issues the invoices."""
        return seller_from_environ(
            {SELLER_PREFIX + name: getattr(self, "seller_" + name.lower()) for name in DEMO}
        )

    # -- paths ------------------------------------------------------------------------

    def path(self, path: Path | str) -> Path:
        """``path`` resolved against the data directory (an absolute one stays)."""
        return (self.data_dir / path).absolute()

    @property
    def demo_tokens_path(self) -> Path:
        return self.path("var/demo-tokens.json")

    # -- what the parts of the service take -------------------------------------------

    def store(self) -> StoreSettings:
        if self.database_url:
            return StoreSettings(postgres=parse_postgres_url(self.database_url))
        return StoreSettings(sqlite_path=str(self.path(self.db)))

    def retention(self) -> Retention:
        """How long invoices keep their buyer, and when financial years end."""
        month, _, day = self.financial_year_end.partition("-")
        return Retention(self.retention_years, int(month), int(day))

    def destinations(self) -> Destinations:
        return Destinations(networks(self.webhook_allowed_networks))


class _FromMapping(Settings):
    """Settings from a given mapping instead of the process environment (tests, workers)."""

    _reads_environment: ClassVar[bool] = False


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """The settings from ``environ`` (default: the process environment) and ``overrides``
    (field names), checked; SettingsInvalid names every bad variable, one per line."""
    try:
        if environ is None:
            return Settings(**overrides)
        values: dict[str, Any] = {
            name[len(PREFIX) :].lower(): value
            for name, value in environ.items()
            if name.startswith(PREFIX) and value.strip()
        }
        return _FromMapping(**(values | overrides))
    except ValidationError as error:
        raise SettingsInvalid([_line(e) for e in error.errors()]) from None


def _line(error: Any) -> str:
    if not error["loc"]:  # the seller, checked as a whole
        return str(error["msg"]).removeprefix("Value error, ")
    field = str(error["loc"][0])
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    shown = f", got {given!r}" if isinstance(given, str) else ""
    return f"{PREFIX}{field.upper()}: {message}{shown}"


def configuration_table() -> list[str]:
    """README's configuration table, one row per setting."""
    rows = ["| Variable | What it sets | Default |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        shown = f"`{default}`" if default not in ("", None) else "unset"
        rows.append(f"| `{PREFIX}{name.upper()}` | {field.description} | {shown} |")
    return rows


if __name__ == "__main__":  # python -m service.config.settings: the table for README
    print("\n".join(configuration_table()))
