"""The entity sets the simulator serves: their properties, property types and navigations."""

from __future__ import annotations

from dataclasses import dataclass, field

# Property types, as the query validator sees them.
INT = "Edm.Int64"
DECIMAL = "Edm.Decimal"
STRING = "Edm.String"
DATETIME = "Edm.DateTimeOffset"
BOOLEAN = "Edm.Boolean"
NUMERIC_TYPES = frozenset({INT, DECIMAL})


@dataclass(frozen=True)
class EntitySchema:
    """One entity set: its name in the URL, its properties and what ``$expand`` accepts."""

    name: str
    type_name: str
    properties: dict[str, str]
    navigations: frozenset[str] = field(default_factory=frozenset)
    hidden: frozenset[str] = field(default_factory=frozenset)  # stored, but shown only when expanded
    # The properties of the lines under the ``Products`` navigation (orders, quotes), else None.
    lines: dict[str, str] | None = None
    # Navigations shown as they are stored when expanded, without options (a field's Type, an
    # options table's Options).
    plain: frozenset[str] = field(default_factory=frozenset)


DEALS = EntitySchema(
    name="Deals",
    type_name="Ploomes.Deal",
    properties={
        "Id": INT,
        "Title": STRING,
        "ContactId": INT,
        "ContactName": STRING,
        "PersonId": INT,
        "PipelineId": INT,
        "StageId": INT,
        "StatusId": INT,
        "OwnerId": INT,
        "CurrencyId": INT,
        "Amount": DECIMAL,
        "StartAmount": DECIMAL,
        "StartDate": DATETIME,
        "FinishDate": DATETIME,
        "CreateDate": DATETIME,
        "LastUpdateDate": DATETIME,
        "DealNumber": INT,
        "WonQuoteId": INT,
        "LastQuoteId": INT,
        "LastOrderId": INT,
        "LossReasonId": INT,
        "CreatorId": INT,
        "UpdaterId": INT,
    },
    navigations=frozenset({"OtherProperties"}),
    hidden=frozenset({"OtherProperties"}),
)

CONTACTS = EntitySchema(
    name="Contacts",
    type_name="Ploomes.Contact",
    properties={
        "Id": INT,
        "TypeId": INT,
        "Name": STRING,
        "LegalName": STRING,
        "Register": STRING,
        "CNPJ": STRING,
        "CPF": STRING,
        "StatusId": INT,
        "Email": STRING,
        "ZipCode": INT,
        "CityId": INT,
        "StateId": INT,
        "CreateDate": DATETIME,
        "LastUpdateDate": DATETIME,
    },
    navigations=frozenset({"Tags", "OtherProperties"}),
    hidden=frozenset({"Tags", "OtherProperties"}),
)

USERS = EntitySchema(
    name="Users",
    type_name="Ploomes.User",
    properties={"Id": INT, "Name": STRING, "Email": STRING, "Phone": STRING, "RoleId": INT, "ProfileId": INT,
                "Suspended": BOOLEAN, "Integration": BOOLEAN, "AccountOwner": BOOLEAN, "CreateDate": DATETIME,
                "LastUpdateDate": DATETIME},
)

PRODUCTS = EntitySchema(
    name="Products",
    type_name="Ploomes.Product",
    properties={
        "Id": INT,
        "Code": STRING,
        "Name": STRING,
        "GroupId": INT,
        "FamilyId": INT,
        "MeasurementUnit": STRING,
        "CurrencyId": INT,
        "UnitPrice": DECIMAL,
        "Suspended": BOOLEAN,
        "ImageUrl": STRING,
        "Editable": BOOLEAN,
        "Deletable": BOOLEAN,
        "CreatorId": INT,
        "UpdaterId": INT,
        "CreateDate": DATETIME,
        "LastUpdateDate": DATETIME,
    },
    navigations=frozenset({"OtherProperties"}),
    hidden=frozenset({"OtherProperties"}),
)

# A line of an order or a quote: what ``$expand=Products`` shows and ``/Orders@Products`` lists.
_LINE = {"Id": INT, "SectionId": INT, "ProductId": INT, "ProductName": STRING, "Quantity": DECIMAL,
         "CurrencyId": INT, "UnitPrice": DECIMAL, "Discount": DECIMAL, "Total": DECIMAL}
ORDER_LINE_PROPERTIES = {"OrderId": INT, "OrderDate": DATETIME, "DealId": INT, "ContactId": INT, **_LINE,
                         "Bonus": BOOLEAN}
QUOTE_LINE_PROPERTIES = {"QuoteId": INT, **_LINE}

ORDERS = EntitySchema(
    name="Orders",
    type_name="Ploomes.Order",
    properties={
        "Id": INT,
        "OrderNumber": INT,
        "Date": DATETIME,
        "ContactId": INT,
        "ContactName": STRING,
        "PersonId": INT,
        "DealId": INT,
        "StageId": INT,
        "Amount": DECIMAL,
        "Discount": DECIMAL,
        "OwnerId": INT,
        "TemplateId": INT,
        "OriginQuoteId": INT,
        "CreatorId": INT,
        "UpdaterId": INT,
        "CreateDate": DATETIME,
        "LastUpdateDate": DATETIME,
    },
    navigations=frozenset({"Products", "OtherProperties"}),
    hidden=frozenset({"Products", "OtherProperties"}),
    lines=ORDER_LINE_PROPERTIES,
)

QUOTES = EntitySchema(
    name="Quotes",
    type_name="Ploomes.Quote",
    properties={
        "Id": INT,
        "DealId": INT,
        "ContactId": INT,
        "Date": DATETIME,
        "QuoteNumber": INT,
        "ReviewNumber": INT,
        "LastReview": BOOLEAN,
        "ApprovalStatusId": INT,
        "CurrencyId": INT,
        "Amount": DECIMAL,
        "Discount": DECIMAL,
        "ExpirationDate": DATETIME,
        "CreateDate": DATETIME,
        "LastUpdateDate": DATETIME,
    },
    navigations=frozenset({"Products", "OtherProperties"}),
    hidden=frozenset({"Products", "OtherProperties"}),
    lines=QUOTE_LINE_PROPERTIES,
)

ORDER_LINES = EntitySchema(name="Orders@Products", type_name="Ploomes.OrderProduct",
                           properties={**ORDER_LINE_PROPERTIES})
QUOTE_LINES = EntitySchema(name="Quotes@Products", type_name="Ploomes.QuoteProduct",
                           properties={**QUOTE_LINE_PROPERTIES})

ACCOUNT = EntitySchema(name="Account", type_name="Ploomes.Account", properties={"Id": INT, "Name": STRING})
DEAL_STATUSES = EntitySchema(
    name="Deals@Status", type_name="Ploomes.DealStatus", properties={"Id": INT, "Name": STRING}
)
CONTACT_TYPES = EntitySchema(
    name="Contacts@Types", type_name="Ploomes.ContactType", properties={"Id": INT, "Name": STRING}
)

TAG_PROPERTIES = {"Id": INT, "Name": STRING}
CONTACT_TAG_PROPERTIES = {"TagId": INT}

# --- the account's vocabulary (vocabulary.py) -------------------------------------------------

FIELDS = EntitySchema(
    name="Fields",
    type_name="Ploomes.Field",
    properties={"Id": INT, "Key": STRING, "Name": STRING, "EntityId": INT, "SecondaryEntityId": INT, "TypeId": INT,
                "OptionsTableId": INT, "Multiple": BOOLEAN, "Required": BOOLEAN, "Unique": BOOLEAN,
                "Disabled": BOOLEAN, "Hidden": BOOLEAN, "FormHidden": BOOLEAN, "Dynamic": BOOLEAN,
                "Filterable": BOOLEAN, "PropertyName": STRING, "OriginFieldKey": STRING},
    navigations=frozenset({"Type"}),
    hidden=frozenset({"Type"}),
    plain=frozenset({"Type"}),
)
OPTIONS_TABLES = EntitySchema(
    name="Fields@OptionsTables",
    type_name="Ploomes.FieldOptionsTable",
    properties={"Id": INT, "Name": STRING},
    navigations=frozenset({"Options"}),
    hidden=frozenset({"Options"}),
    plain=frozenset({"Options"}),
)
OPTIONS = EntitySchema(
    name="Fields@OptionsTables@Options",
    type_name="Ploomes.FieldOption",
    properties={"Id": INT, "TableId": INT, "Name": STRING, "ExternalKey": STRING, "LastUpdateDate": DATETIME},
)
PIPELINES = EntitySchema(
    name="Deals@Pipelines",
    type_name="Ploomes.DealPipeline",
    properties={"Id": INT, "Name": STRING, "Color": STRING, "Archived": BOOLEAN, "Ordination": INT},
)
STAGES = EntitySchema(
    name="Deals@Stages",
    type_name="Ploomes.DealStage",
    properties={"Id": INT, "Name": STRING, "PipelineId": INT, "Ordination": INT},
)
LOSS_REASONS = EntitySchema(
    name="Deals@LossReasons",
    type_name="Ploomes.DealLossReason",
    properties={"Id": INT, "Name": STRING, "PipelineId": INT},
)
