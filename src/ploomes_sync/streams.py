"""The streams: one spec per Ploomes entity, the single place that says what a stream is.

A :class:`Stream` names its endpoint and ``$expand``, its columns (each with the Ploomes fields
it reads and how it turns them into a warehouse value), its staging table, its ``public`` table
and its archive of rows gone from Ploomes, and the columns its *listing* reads: the light read of
every record (Id, LastUpdateDate and what the check compares) that finds deletions.

Everything else derives from it: the ``$select`` of its reads, the row tuples (or rejects), the
COPY, merge, archive and check statements (``ploomes_sync.warehouse.statements`` fills the
column lists of ``include/sql`` templates from the spec). Adding a deal field is a column here,
one migration (the column in ``stage_deals``, ``public.sales`` and ``deleted_sales``) and a line
in the warehouse contract. Orders and quotes carry :class:`Lines` (read with them, replaced with
them); the products' merge is followed by the catalogue price history (``after_merge``).

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
from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID, DEFAULT_QUOTE_ENTITY_ID

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


def number(name: str, fld: str, *, digits: int, scale: int) -> Column:
    """A decimal as ``numeric(digits, scale)`` (a quantity, a percentage)."""
    return Column(name, f"numeric({digits},{scale})", (fld,),
                  lambda get: records.decimal(get(fld), fld, scale, digits))


def flag(name: str, fld: str) -> Column:
    return Column(name, "boolean", (fld,), lambda get: records.flag(get(fld), fld))


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
class Lines:
    """The lines a record carries under an expanded navigation (an order's or a quote's products).

    They are read with the record (``$expand=Products($select=...)``), staged beside it in
    ``ploomes_sync.stage_<target>`` and kept in ``public.<target>``, one row per line: the line's
    key, the record's id (``parent_key``), the record's ``inherited`` columns, then the line's own
    columns. A record re-read replaces its lines whole: a line gone from Ploomes leaves the table.
    A line that cannot be read sets its whole record aside, with the line's position in the reason.
    """

    navigation: str
    target: str
    parent_key: str
    inherited: tuple[str, ...]
    columns: tuple[Column, ...]  # read from each line; the first is its key

    @property
    def stage(self) -> str:
        return f"stage_{self.target}"

    @property
    def column_names(self) -> tuple[str, ...]:
        own = tuple(column.name for column in self.columns)
        return (own[0], self.parent_key, *self.inherited, *own[1:])

    @property
    def expand(self) -> str:
        """The ``$expand`` that brings the lines, each with the fields its columns read."""
        fields = dict.fromkeys(fld for column in self.columns for fld in column.fields)
        return f"{self.navigation}($select={','.join(fields)})"

    def rows(self, value: Any, parent: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The lines of one record as rows (``parent``: the record's id, then its inherited values)."""
        if value is None:
            return []
        if type(value) is not list:
            raise Invalid(f"{self.navigation}: expected a list of lines, got {type(value).__name__}")
        rows = []
        for position, line in enumerate(value):
            if not isinstance(line, dict):
                raise Invalid(f"{self.navigation}[{position}]: expected a JSON object, got {type(line).__name__}")
            try:
                own = [column.read(line.get) for column in self.columns]
            except Invalid as exc:
                raise Invalid(f"{self.navigation}[{position}].{exc}") from exc
            rows.append((own[0], *parent, *own[1:]))
        return rows


@dataclass(frozen=True)
class YearColumns:
    """How the check's per-year table names a stream's columns: ``ploomes_<records>``,
    ``warehouse_<records>``, ``<records>_diff``, ``ploomes_<amount>``, ``warehouse_<amount>`` and
    ``amount_diff``."""

    records: str
    amount: str
    amount_diff: str

    @property
    def names(self) -> tuple[str, ...]:
        r, a = self.records, self.amount
        return (f"ploomes_{r}", f"warehouse_{r}", f"{r}_diff", f"ploomes_{a}", f"warehouse_{a}", self.amount_diff)


@dataclass(frozen=True)
class Stream:
    """One Ploomes entity read into one staging table and merged into one ``public`` table (and its
    lines, when it has them, into one more)."""

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
    year_columns: YearColumns | None = None  # its columns in that table (needed with a year column)
    # Webhooks: Ploomes' EntityId of the entity (None: no webhooks), the names a delivery's Entity
    # may carry (lower case, no accents; the stream's own name is always one), and whether the
    # entity is won and lost (Win/Lose actions are registered for it alone).
    webhook_entity_id: int | None = None
    webhook_names: tuple[str, ...] = ()
    won_and_lost: bool = False
    # The lines the records carry (orders, quotes), read with them and replaced with them.
    lines: Lines | None = None
    # Statements (include/sql templates) the merge runs after the upsert, in its transaction: what
    # else follows the stream's rows (the catalogue price history follows the products).
    after_merge: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = self.column_names
        if names[0] != "id" or len(set(names)) != len(names):
            raise ValueError(f"stream {self.name}: the first column must be id and names unique: {names}")
        missing = set(self.listed) - set(names)
        missing |= {c for c in (self.year_column, self.amount, self.amount_if) if c} - set(self.listed)
        if missing or self.listed[:2] != ("id", "updated_at"):
            raise ValueError(f"stream {self.name}: listed columns must start with id, updated_at, be columns "
                             f"of the stream and hold the check's year and amount columns: {self.listed}")
        if (self.year_column is None) != (self.year_columns is None):
            raise ValueError(f"stream {self.name}: a year column and the per-year table's names go together")
        if self.lines is not None:
            unknown = set(self.lines.inherited) - set(names)
            if unknown:
                raise ValueError(f"stream {self.name}: its lines inherit columns it does not have: {sorted(unknown)}")
        object.__setattr__(self, "_readers", tuple(column.read for column in self.columns))
        object.__setattr__(self, "_inherited_at", tuple(names.index(name) for name in self.lines.inherited)
                           if self.lines else ())

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
    def expand_option(self) -> str | None:
        """The ``$expand`` of the stream's reads: its own navigation and its lines'."""
        parts = [part for part in (self.expand, self.lines.expand if self.lines else None) if part]
        return ",".join(parts) or None

    @property
    def tables(self) -> tuple[str, ...]:
        """The ``public`` tables it writes: its own, and its lines' (orders, quotes)."""
        return (self.target, self.lines.target) if self.lines else (self.target,)

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
                       expand=None, lines=None, after_merge=())

    def row(self, record: Mapping[str, Any]) -> tuple[Any, ...] | Reject:
        """The record as a row in column order, or a :class:`Reject` saying why not."""
        if not isinstance(record, dict):
            return records.not_an_object(record)
        get = record.get
        try:
            return tuple([read(get) for read in self._readers])  # type: ignore[attr-defined]
        except Invalid as exc:
            return records.reject(record, str(exc))

    def row_and_lines(self, record: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]] | Reject:
        """The record's row and its lines' rows (:class:`Lines`), or a :class:`Reject` saying why not."""
        row = self.row(record)
        if type(row) is not tuple:
            return row
        if self.lines is None:
            return row, []
        parent = (row[0], *(row[at] for at in self._inherited_at))  # type: ignore[attr-defined]
        try:
            return row, self.lines.rows(record.get(self.lines.navigation), parent)
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
            integer("last_quote_id", "LastQuoteId"),
            integer("won_quote_id", "WonQuoteId"),
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
        year_columns=YearColumns("deals", "won_revenue", "revenue_diff"),
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


def products() -> Stream:
    """``/Products`` -> ``public.products``; each catalogue price seen goes to ``public.product_prices``."""
    return Stream(
        name="products",
        endpoint="Products",
        columns=(
            key("id"),
            text("code", "Code"),
            text("name", "Name"),
            integer("group_id", "GroupId"),
            integer("family_id", "FamilyId"),
            text("measurement_unit", "MeasurementUnit"),
            money("unit_price", "UnitPrice"),
            integer("currency_id", "CurrencyId"),
            flag("suspended", "Suspended"),
            instant("created_at", "CreateDate"),
            instant("updated_at", "LastUpdateDate"),
        ),
        target="products",
        archive="deleted_products",
        listed=("id", "updated_at", "code", "unit_price"),
        customer_key=None,
        webhook_entity_id=10,
        webhook_names=("product", "products", "produto", "produtos"),
        after_merge=("merge/product_prices.sql",),
    )


def _line_columns() -> tuple[Column, ...]:
    """The columns of an order's or a quote's line (``$expand=Products``)."""
    return (
        key("id"),
        integer("product_id", "ProductId"),
        text("product_name", "ProductName"),
        number("quantity", "Quantity", digits=15, scale=4),
        money("unit_price", "UnitPrice"),
        number("discount_percent", "Discount", digits=9, scale=4),
        money("line_total", "Total"),
        integer("currency_id", "CurrencyId"),
    )


def orders() -> Stream:
    """``/Orders`` with their lines -> ``public.orders`` and ``public.order_items``."""
    return Stream(
        name="orders",
        endpoint="Orders",
        columns=(
            key("id"),
            integer("order_number", "OrderNumber"),
            integer("deal_id", "DealId"),
            integer("customer_id", "ContactId"),
            instant("ordered_at", "Date", required=False),
            money("amount", "Amount"),
            number("discount_percent", "Discount", digits=9, scale=4),
            integer("stage_id", "StageId"),
            integer("owner_id", "OwnerId"),
            integer("origin_quote_id", "OriginQuoteId"),
            instant("created_at", "CreateDate"),
            instant("updated_at", "LastUpdateDate"),
        ),
        target="orders",
        archive="deleted_orders",
        listed=("id", "updated_at", "ordered_at", "customer_id", "deal_id", "amount"),
        customer_key=None,
        webhook_entity_id=4,
        webhook_names=("order", "orders", "venda", "vendas", "pedido", "pedidos"),
        year_column="ordered_at",
        amount="amount",
        year_columns=YearColumns("orders", "order_amount", "order_amount_diff"),
        lines=Lines("Products", "order_items", "order_id", ("deal_id", "customer_id", "ordered_at"),
                    _line_columns()),
    )


def quotes(webhook_entity_id: int = DEFAULT_QUOTE_ENTITY_ID) -> Stream:
    """``/Quotes`` with their lines -> ``public.quotes`` and ``public.quote_items``."""
    return Stream(
        name="quotes",
        endpoint="Quotes",
        columns=(
            key("id"),
            integer("quote_number", "QuoteNumber"),
            integer("review_number", "ReviewNumber"),
            integer("deal_id", "DealId"),
            integer("customer_id", "ContactId"),
            instant("quoted_at", "Date", required=False),
            money("amount", "Amount"),
            number("discount_percent", "Discount", digits=9, scale=4),
            integer("approval_status_id", "ApprovalStatusId"),
            instant("expires_at", "ExpirationDate", required=False),
            instant("updated_at", "LastUpdateDate"),
        ),
        target="quotes",
        archive="deleted_quotes",
        listed=("id", "updated_at", "deal_id", "amount"),
        customer_key=None,
        webhook_entity_id=webhook_entity_id,
        webhook_names=("quote", "quotes", "proposta", "propostas"),
        lines=Lines("Products", "quote_items", "quote_id", ("deal_id", "customer_id", "quoted_at"),
                    _line_columns()),
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


def registry(client_tag_id: int = DEFAULT_CLIENT_TAG_ID,
             quote_entity_id: int = DEFAULT_QUOTE_ENTITY_ID) -> Registry:
    """Every stream the sync keeps; ``client_tag_id`` is the tag that makes a contact a client,
    ``quote_entity_id`` the EntityId Ploomes' webhooks give quotes (sources disagree on it).

    The names, tables and columns do not depend on them, so the DAG file may call this with the
    defaults when it is parsed (no Variable is read then).
    """
    return Registry((contacts(client_tag_id), deals(), products(), quotes(quote_entity_id), orders()))
