"""The streams: one spec per Ploomes entity, the single place that says what a stream is.

A :class:`Stream` names its endpoint and ``$expand``, its columns (each with the Ploomes fields
it reads and how it turns them into a warehouse value), its staging table, its ``public`` table
and its archive of rows gone from Ploomes, and the columns its *listing* reads: the light read of
every record (Id, LastUpdateDate and what the check compares) that finds deletions.

Everything else derives from it: the ``$select`` of its reads, the row tuples (or rejects), the
COPY, merge, archive and check statements (``ploomes_sync.warehouse.statements`` fills the
column lists of ``include/sql`` templates from the spec). Adding a deal field is a column here,
one migration (the column in ``stage_deals``, ``public.sales`` and ``deleted_sales``) and a line
in the warehouse contract.

:func:`registry` is the one list of the streams: the plan, the DAG's tasks, the listings, the
reconcile, the check, the health report, the metrics and the webhook applier iterate it, and a
module that needs one stream (the aggregate reads deals) takes it from there by name. A new
entity is a spec in :func:`registry`, a migration and simulator data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ploomes_sync import records
from ploomes_sync.records import Invalid, Reject
from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID

Get = Callable[[str], Any]  # a record's ``get``


@dataclass(frozen=True)
class Column:
    """A warehouse column: its name and PostgreSQL type, the fields it reads, and how (``read(get)``)."""

    name: str
    sql_type: str
    fields: tuple[str, ...]
    read: Callable[[Get], Any] = field(repr=False, compare=False)


# --- how a column reads its fields (each raises Invalid, whose message is the reject's reason) ---


def key(name: str, fld: str = "Id") -> Column:
    return Column(name, "bigint", (fld,), lambda get: records.record_id(get(fld)))


def integer(name: str, fld: str) -> Column:
    return Column(name, "bigint", (fld,), lambda get: records.integer(get(fld), fld))


def text(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get: records.text(get(fld), fld))


def money(name: str, fld: str) -> Column:
    return Column(name, "numeric(15,2)", (fld,), lambda get: records.money(get(fld), fld))


def instant(name: str, fld: str, *, required: bool = True) -> Column:
    if required:
        return Column(name, "timestamptz", (fld,), lambda get: records.instant(get(fld), fld))

    def optional(get: Get) -> Any:
        value = get(fld)
        return None if value is None else records.instant(value, fld)

    return Column(name, "timestamptz", (fld,), optional)


def status(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get: records.status(get(fld)))


def won(name: str, fld: str) -> Column:
    return Column(name, "boolean", (fld,), lambda get: records.status(get(fld)) == "won")


def cnpj(name: str, *flds: str) -> Column:
    def read(get: Get) -> str | None:
        for fld in flds:
            value = records.cnpj(get(fld))
            if value is not None:
                return value
        return None

    return Column(name, "text", flds, read)


def zip_code(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get: records.zip_code(get(fld)))


def tagged(name: str, fld: str, tag_id: int) -> Column:
    return Column(name, "boolean", (fld,), lambda get: records.has_tag(get(fld), tag_id))


# --- the spec -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One Ploomes entity read into one staging table and merged into one ``public`` table."""

    name: str  # run history, rejects, watermarks and staging say this
    endpoint: str  # the API's entity set
    columns: tuple[Column, ...]  # staging and target columns, in COPY order; the first is the key
    target: str  # public.<target>
    archive: str  # ploomes_sync.<archive>: rows gone from Ploomes, with when and by which run
    listed: tuple[str, ...]  # columns the listing reads and the check compares (key and updated_at first)
    customer_key: str | None  # the column that links a row to public.customer_sales (None: no link)
    expand: str | None = None
    # A date-range run (and an Airflow backfill run) reads the records created in its range and
    # its extract is the listing of that range; the other streams are read incrementally alongside.
    created_range: bool = False
    # The check's table per São Paulo year of this column (None: the check counts classes only),
    # with the sum of this amount on each side (None: no amount), counted where `amount_if` is true.
    year_column: str | None = None
    amount: str | None = None
    amount_if: str | None = None
    # Webhooks: Ploomes' EntityId of the entity (None: no webhooks), the names a delivery's Entity
    # may carry (lower case, no accents; the stream's own name is always one), and whether the
    # entity is won and lost (Win/Lose actions are registered for it alone).
    webhook_entity_id: int | None = None
    webhook_names: tuple[str, ...] = ()
    won_and_lost: bool = False

    def __post_init__(self) -> None:
        names = self.column_names
        if names[0] != "id" or len(set(names)) != len(names):
            raise ValueError(f"stream {self.name}: the first column must be id and names unique: {names}")
        missing = set(self.listed) - set(names)
        missing |= {c for c in (self.year_column, self.amount, self.amount_if) if c} - set(self.listed)
        if missing or self.listed[:2] != ("id", "updated_at"):
            raise ValueError(f"stream {self.name}: listed columns must start with id, updated_at, be columns "
                             f"of the stream and hold the check's year and amount columns: {self.listed}")
        object.__setattr__(self, "_readers", tuple(column.read for column in self.columns))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def select(self) -> tuple[str, ...]:
        """The ``$select`` of the stream's reads: every field a column reads, once, in order (what
        ``$expand`` brings is not selected)."""
        expanded = {self.expand} if self.expand else set()
        return tuple(dict.fromkeys(fld for column in self.columns for fld in column.fields
                                   if fld not in expanded))

    @property
    def stage(self) -> str:
        """Its staging table under ``ploomes_sync``."""
        return f"stage_{self.name}"

    @property
    def listing_stage(self) -> str:
        """The staging table of its listing under ``ploomes_sync``."""
        return f"stage_{self.name}_listing"

    def listing(self) -> Stream:
        """The listing: the same entity, read lightly (the ``listed`` columns only, no ``$expand``)."""
        by_name = {column.name: column for column in self.columns}
        return replace(self, name=f"{self.name}_listing", columns=tuple(by_name[n] for n in self.listed),
                       expand=None)

    def row(self, record: Mapping[str, Any]) -> tuple[Any, ...] | Reject:
        """The record as a row in column order, or a :class:`Reject` saying why not."""
        if not isinstance(record, dict):
            return records.not_an_object(record)
        get = record.get
        try:
            return tuple([read(get) for read in self._readers])  # type: ignore[attr-defined]
        except Invalid as exc:
            return records.reject(record, str(exc))


def deals() -> Stream:
    """``/Deals`` -> ``public.sales`` (the warehouse contract's columns, in that order)."""
    return Stream(
        name="deals",
        endpoint="Deals",
        columns=(
            key("id"),
            integer("customer_id", "ContactId"),
            text("title", "Title"),
            money("deal_value", "Amount"),
            status("status", "StatusId"),
            won("won", "StatusId"),
            integer("pipeline_id", "PipelineId"),
            integer("stage_id", "StageId"),
            integer("owner_id", "OwnerId"),
            instant("created_at", "CreateDate"),
            instant("updated_at", "LastUpdateDate"),
            instant("closed_at", "FinishDate", required=False),
        ),
        target="sales",
        archive="deleted_sales",
        listed=("id", "updated_at", "created_at", "customer_id", "status", "won", "deal_value"),
        customer_key="customer_id",
        created_range=True,
        webhook_entity_id=2,
        webhook_names=("deal", "negocio", "negocios"),
        won_and_lost=True,
        year_column="created_at",
        amount="deal_value",
        amount_if="won",
    )


def contacts(client_tag_id: int = DEFAULT_CLIENT_TAG_ID) -> Stream:
    """``/Contacts`` (with their tags) -> ``public.customers``; ``is_client``: carries ``client_tag_id``."""
    return Stream(
        name="contacts",
        endpoint="Contacts",
        columns=(
            key("id"),
            text("name", "Name"),
            text("legal_name", "LegalName"),
            cnpj("cnpj", "CNPJ", "Register"),
            zip_code("zip_code", "ZipCode"),
            tagged("is_client", "Tags", client_tag_id),
            instant("created_at", "CreateDate"),
            instant("updated_at", "LastUpdateDate"),
        ),
        target="customers",
        archive="deleted_customers",
        listed=("id", "updated_at"),
        customer_key="id",
        expand="Tags",
        webhook_entity_id=1,
        webhook_names=("contact", "cliente", "clientes"),
    )


@dataclass(frozen=True)
class Registry:
    """The streams, in the order their changes are applied (a deal's customer lands first)."""

    streams: tuple[Stream, ...]

    def __post_init__(self) -> None:
        names = [stream.name for stream in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique: {names}")

    def __iter__(self) -> Iterator[Stream]:
        return iter(self.streams)

    def __getitem__(self, name: str) -> Stream:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"Unknown stream {name!r}; the registry holds {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(stream.name for stream in self.streams)

    def with_stream(self, stream: Stream) -> Registry:
        """A copy with ``stream`` added at the end (a test's toy stream, a new entity tried out)."""
        return Registry((*self.streams, stream))


def registry(client_tag_id: int = DEFAULT_CLIENT_TAG_ID) -> Registry:
    """Every stream the sync keeps; ``client_tag_id`` is the tag that makes a contact a client.

    The names, tables and columns do not depend on it, so the DAG file may call this with the
    default when it is parsed (no Variable is read then).
    """
    return Registry((contacts(client_tag_id), deals()))
