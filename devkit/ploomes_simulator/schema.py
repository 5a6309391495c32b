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
        "LossReasonId": INT,
        "CreatorId": INT,
        "UpdaterId": INT,
    },
    navigations=frozenset({"OtherProperties"}),
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
    hidden=frozenset({"Tags"}),
)

USERS = EntitySchema(
    name="Users",
    type_name="Ploomes.User",
    properties={"Id": INT, "Name": STRING, "Email": STRING, "CreateDate": DATETIME, "LastUpdateDate": DATETIME},
)

ACCOUNT = EntitySchema(name="Account", type_name="Ploomes.Account", properties={"Id": INT, "Name": STRING})
DEAL_STATUSES = EntitySchema(
    name="Deals@Status", type_name="Ploomes.DealStatus", properties={"Id": INT, "Name": STRING}
)
CONTACT_TYPES = EntitySchema(
    name="Contacts@Types", type_name="Ploomes.ContactType", properties={"Id": INT, "Name": STRING}
)

TAG_PROPERTIES = {"Id": INT, "Name": STRING}
CONTACT_TAG_PROPERTIES = {"TagId": INT}
