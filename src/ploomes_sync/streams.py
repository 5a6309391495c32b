"""The streams: one spec per Ploomes entity, the single place that says what a stream is.

A :class:`Stream` names its endpoint, its columns (each with the Ploomes fields it reads, the
navigation it needs expanded, and how it turns them into a warehouse value), its staging table,
its ``public`` table and its archive of rows gone from Ploomes, and the columns its *listing*
reads: the light read of every record (Id, LastUpdateDate and what the check compares) that finds
deletions. What a value depends on beyond the record (the tag that marks a client, the account's
custom fields) comes in a :class:`ReadContext` when the record is read, so the specs are constants.

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

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ploomes_sync import records
from ploomes_sync.records import FieldSpec, Invalid, Reject
from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID, DEFAULT_QUOTE_ENTITY_ID

Get = Callable[[str], Any]  # a record's ``get``


@dataclass(frozen=True)
class ReadContext:
    """What reading a record needs beyond the record: the tag that marks a contact as a client
    (configuration), and the account's custom fields by key (``public.custom_fields``, as the last
    read of ``/Fields`` left it; a field not known yet is typed by the value it carries)."""

    client_tag_id: int = DEFAULT_CLIENT_TAG_ID
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)


DEFAULT_CONTEXT = ReadContext()
Read = Callable[[Get, ReadContext], Any]


@dataclass(frozen=True)
class Column:
    """A warehouse column: its name and PostgreSQL type, the fields it reads, the navigation it needs
    expanded (``$expand``), and how it reads them (``read(get, context)``)."""

    name: str
    sql_type: str
    fields: tuple[str, ...]
    read: Read = field(repr=False, compare=False)
    expand: str | None = None


# --- how a column reads its fields (each raises Invalid, whose message is the reject's reason) ---


def key(name: str, fld: str = "Id") -> Column:
    return Column(name, "bigint", (fld,), lambda get, _: records.record_id(get(fld)))


def integer(name: str, fld: str) -> Column:
    return Column(name, "bigint", (fld,), lambda get, _: records.integer(get(fld), fld))


def text(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get, _: records.text(get(fld), fld))


def money(name: str, fld: str) -> Column:
    return Column(name, "numeric(15,2)", (fld,), lambda get, _: records.money(get(fld), fld))


def instant(name: str, fld: str, *, required: bool = True) -> Column:
    if required:
        return Column(name, "timestamptz", (fld,), lambda get, _: records.instant(get(fld), fld))

    def optional(get: Get, _: ReadContext) -> Any:
        value = get(fld)
        return None if value is None else records.instant(value, fld)

    return Column(name, "timestamptz", (fld,), optional)


def number(name: str, fld: str, *, digits: int, scale: int) -> Column:
    """A decimal as ``numeric(digits, scale)`` (a quantity, a percentage)."""
    return Column(name, f"numeric({digits},{scale})", (fld,),
                  lambda get, _: records.decimal(get(fld), fld, scale, digits))


def flag(name: str, fld: str) -> Column:
    return Column(name, "boolean", (fld,), lambda get, _: records.flag(get(fld), fld))


def status(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get, _: records.status(get(fld)))


def won(name: str, fld: str) -> Column:
    return Column(name, "boolean", (fld,), lambda get, _: records.status(get(fld)) == "won")


def cnpj(name: str, *flds: str) -> Column:
    def read(get: Get, _: ReadContext) -> str | None:
        for fld in flds:
            value = records.cnpj(get(fld))
            if value is not None:
                return value
        return None

    return Column(name, "text", flds, read)


def zip_code(name: str, fld: str) -> Column:
    return Column(name, "text", (fld,), lambda get, _: records.zip_code(get(fld)))


def client(name: str, fld: str = "Tags") -> Column:
    """Whether the record's tags (expanded) carry the tag that marks a client (the context's)."""
    return Column(name, "boolean", (fld,), lambda get, context: records.has_tag(get(fld), context.client_tag_id),
                  expand=fld)


def custom(name: str = "custom_fields", fld: str = "OtherProperties") -> Column:
    """The record's custom values (expanded), typed by the account's fields (``records.custom_values``),
    as JSON text (keys sorted, so that equal values are equal rows)."""
    def read(get: Get, context: ReadContext) -> str:
        values = records.custom_values(get(fld), context.fields)
        return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Column(name, "jsonb", (fld,), read, expand=fld)


def native_type(name: str, fld: str = "Type") -> Column:
    """A field's ``NativeType``, from its ``Type`` (expanded)."""
    def read(get: Get, _: ReadContext) -> str | None:
        value = get(fld)
        if value is None:
            return None
        if type(value) is not dict:
            raise Invalid(f"{fld}: expected an object, got {type(value).__name__}")
        return records.text(value.get("NativeType"), f"{fld}.NativeType")

    return Column(name, "text", (fld,), read, expand=fld)


def unknown(name: str, sql_type: str = "timestamptz") -> Column:
    """A column Ploomes is not known to give for the entity (a vocabulary list's LastUpdateDate): null,
    and nothing asked for it (a ``$select`` of a property the API lacks is refused)."""
    return Column(name, sql_type, (), lambda get, _: None)


def entity_of(name: str, fld: str, names: Mapping[int, str]) -> Column:
    """The name of the stream an EntityId stands for (``deals`` for 2)."""
    def read(get: Get, _: ReadContext) -> str:
        value = get(fld)
        if type(value) is int and value in names:
            return names[value]
        raise Invalid(f"{fld}: expected the id of a synced entity ({sorted(names)}), got {value!r}")

    return Column(name, "text", (fld,), read)


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
    select_inside: bool = True  # the expansion takes a $select of the lines' fields

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
        if not self.select_inside:
            return self.navigation
        fields = dict.fromkeys(fld for column in self.columns for fld in column.fields)
        return f"{self.navigation}($select={','.join(fields)})"

    def rows(self, value: Any, parent: tuple[Any, ...], context: ReadContext = DEFAULT_CONTEXT
             ) -> list[tuple[Any, ...]]:
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
                own = [column.read(line.get, context) for column in self.columns]
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
    # A filter every read of it takes (the custom fields only, of the synced entities only).
    base_filter: str | None = None
    # Read whole every run (a small list: the account's vocabulary): the extract is its listing.
    whole: bool = False
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
    # Its rows are custom fields (a key, the entity whose records carry it): one archived takes its
    # values off those records, as Ploomes does.
    custom_keys: bool = False

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
        return tuple(dict.fromkeys(fld for column in self.columns for fld in column.fields
                                   if fld != column.expand))

    @property
    def expand_option(self) -> str | None:
        """The ``$expand`` of the stream's reads: what its columns read expanded, and its lines."""
        parts = [*dict.fromkeys(c.expand for c in self.columns if c.expand), *([self.lines.expand] if self.lines
                                                                              else [])]
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
        """The listing: the same entity, read lightly (the ``listed`` columns only, and only what they
        need expanded)."""
        by_name = {column.name: column for column in self.columns}
        return replace(self, name=f"{self.name}_listing", columns=tuple(by_name[n] for n in self.listed),
                       lines=None, after_merge=())

    def row(self, record: Mapping[str, Any], context: ReadContext = DEFAULT_CONTEXT) -> tuple[Any, ...] | Reject:
        """The record as a row in column order, or a :class:`Reject` saying why not."""
        if not isinstance(record, dict):
            return records.not_an_object(record)
        get = record.get
        try:
            return tuple([read(get, context) for read in self._readers])  # type: ignore[attr-defined]
        except Invalid as exc:
            return records.reject(record, str(exc))

    def row_and_lines(self, record: Mapping[str, Any], context: ReadContext = DEFAULT_CONTEXT
                      ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]] | Reject:
        """The record's row and its lines' rows (:class:`Lines`), or a :class:`Reject` saying why not."""
        row = self.row(record, context)
        if type(row) is not tuple:
            return row
        if self.lines is None:
            return row, []
        parent = (row[0], *(row[at] for at in self._inherited_at))  # type: ignore[attr-defined]
        try:
            return row, self.lines.rows(record.get(self.lines.navigation), parent, context)
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
            integer("loss_reason_id", "LossReasonId"),
            custom(),
        ),
        target="sales",
        archive="deleted_sales",
        listed=("id", "updated_at", "created_at", "customer_id", "status", "won", "deal_value", "custom_fields"),
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


def contacts() -> Stream:
    """``/Contacts`` (with their tags) -> ``public.customers``; ``is_client``: carries the client tag
    (``client_tag_id`` of the configuration, in the read's context)."""
    return Stream(
        name="contacts",
        endpoint="Contacts",
        columns=(
            key("id"),
            text("name", "Name"),
            text("legal_name", "LegalName"),
            cnpj("cnpj", "CNPJ", "Register"),
            zip_code("zip_code", "ZipCode"),
            client("is_client"),
            instant("created_at", "CreateDate"),
            instant("updated_at", "LastUpdateDate"),
            custom(),
        ),
        target="customers",
        archive="deleted_customers",
        listed=("id", "updated_at"),
        customer_key="id",
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
            custom(),
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
            custom(),
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
            custom(),
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


# --- the account's vocabulary: small lists, read whole every run ---------------------------------

#: The entities whose custom fields are synced: Ploomes' EntityId -> the stream's name.
CUSTOM_FIELD_ENTITIES = {2: "deals", 1: "contacts", 4: "orders", 7: "quotes", 10: "products"}


def fields() -> Stream:
    """``/Fields`` (the custom ones of the synced entities) -> ``public.custom_fields``: what each key
    means (a field renamed in Ploomes changes only its name here)."""
    return Stream(
        name="fields",
        endpoint="Fields",
        columns=(
            key("id"),
            text("key", "Key"),
            entity_of("entity", "EntityId", CUSTOM_FIELD_ENTITIES),
            text("name", "Name"),
            integer("type_id", "TypeId"),
            native_type("native_type"),
            integer("options_table_id", "OptionsTableId"),
            flag("multiple", "Multiple"),
            unknown("updated_at"),
        ),
        target="custom_fields",
        archive="deleted_custom_fields",
        listed=("id", "updated_at", "key", "name", "native_type", "options_table_id"),
        customer_key=None,
        base_filter="Dynamic eq true and (" + " or ".join(f"EntityId eq {e}" for e in CUSTOM_FIELD_ENTITIES) + ")",
        whole=True,
        custom_keys=True,
    )


def options() -> Stream:
    """``/Fields@OptionsTables`` with their options (one request) -> ``public.custom_field_option_tables``
    and ``public.custom_field_options``."""
    return Stream(
        name="options",
        endpoint="Fields@OptionsTables",
        columns=(key("id"), text("name", "Name"), unknown("updated_at")),
        target="custom_field_option_tables",
        archive="deleted_custom_field_option_tables",
        listed=("id", "updated_at", "name"),
        customer_key=None,
        whole=True,
        lines=Lines("Options", "custom_field_options", "table_id", (), (key("id"), text("name", "Name")),
                    select_inside=False),
    )


def users() -> Stream:
    """``/Users`` -> ``public.crm_users``: the sellers a deal's ``owner_id`` names."""
    return Stream(
        name="users",
        endpoint="Users",
        columns=(key("id"), text("name", "Name"), text("email", "Email"), flag("suspended", "Suspended"),
                 flag("integration", "Integration"), instant("updated_at", "LastUpdateDate", required=False)),
        target="crm_users",
        archive="deleted_crm_users",
        listed=("id", "updated_at", "name", "suspended"),
        customer_key=None,
        whole=True,
    )


def pipelines() -> Stream:
    """``/Deals@Pipelines`` -> ``public.deal_pipelines``."""
    return Stream(
        name="pipelines",
        endpoint="Deals@Pipelines",
        columns=(key("id"), text("name", "Name"), flag("archived", "Archived"), integer("ordination", "Ordination"),
                 unknown("updated_at")),
        target="deal_pipelines",
        archive="deleted_deal_pipelines",
        listed=("id", "updated_at", "name", "archived"),
        customer_key=None,
        whole=True,
    )


def stages() -> Stream:
    """``/Deals@Stages`` -> ``public.deal_stages``."""
    return Stream(
        name="stages",
        endpoint="Deals@Stages",
        columns=(key("id"), integer("pipeline_id", "PipelineId"), text("name", "Name"),
                 integer("ordination", "Ordination"), unknown("updated_at")),
        target="deal_stages",
        archive="deleted_deal_stages",
        listed=("id", "updated_at", "pipeline_id", "name"),
        customer_key=None,
        whole=True,
    )


def loss_reasons() -> Stream:
    """``/Deals@LossReasons`` -> ``public.loss_reasons`` (``sales.loss_reason_id`` names one)."""
    return Stream(
        name="loss_reasons",
        endpoint="Deals@LossReasons",
        columns=(key("id"), text("name", "Name"), integer("pipeline_id", "PipelineId"), unknown("updated_at")),
        target="loss_reasons",
        archive="deleted_loss_reasons",
        listed=("id", "updated_at", "name"),
        customer_key=None,
        whole=True,
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


def registry(quote_entity_id: int = DEFAULT_QUOTE_ENTITY_ID) -> Registry:
    """Every stream the sync keeps: the account's vocabulary, then its records (a deal's customer
    first); ``quote_entity_id`` is the EntityId Ploomes' webhooks give quotes (sources disagree on it).

    The names, tables and columns depend on nothing, so the DAG file may call this when it is
    parsed (no Variable is read then).
    """
    return Registry((fields(), options(), users(), pipelines(), stages(), loss_reasons(), contacts(), deals(),
                     products(), quotes(quote_entity_id), orders()))
