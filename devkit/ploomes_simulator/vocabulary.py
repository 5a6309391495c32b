"""The account's own vocabulary: custom fields (``/Fields``), their option lists
(``/Fields@OptionsTables``), deal pipelines, stages and loss reasons; and the custom values records
carry (``OtherProperties``).

A record keeps its custom values compact, ``{field key: value}`` (an option list's option id, a
field that takes several options a list of ids, a user reference the user's id), under the hidden
navigation ``OtherProperties``; :meth:`Vocabulary.items` renders them as the REST API does (one item
per value, every value property present and null when unused, an option's name beside its id) when
a read expands ``OtherProperties``. Webhook deliveries carry the compact form (an object keyed by
field key), as captured in the wild.

Generated from the seed, on an RNG of its own per record, so the rest of the data is what it was.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .dates import render

# TypeId -> (name, NativeType); the value of a field sits in the property <NativeType>Value, except
# for an option list (ObjectValueId, its text in ObjectValueName) and a reference to a user.
TYPES: dict[int, tuple[str, str]] = {
    1: ("Texto", "String"), 2: ("Texto longo", "BigString"), 4: ("Número inteiro", "Integer"),
    5: ("Moeda", "Decimal"), 6: ("Número decimal", "Decimal"), 7: ("Lista de opções", "Integer"),
    8: ("Data", "DateTime"), 10: ("Sim/Não", "Bool"), 13: ("Porcentagem", "Decimal"), 17: ("Usuário", "Integer"),
}
OPTION_LIST, USER_REFERENCE = 7, 17
ENTITY_IDS = {"deals": 2, "contacts": 1, "orders": 4, "quotes": 7, "products": 10}
ITEM_OWNER = {"deals": "DealId", "contacts": "ContactId", "orders": "OrderId", "quotes": "QuoteId",
              "products": "ProductId"}
VALUE_PROPERTIES = ("StringValue", "BigStringValue", "IntegerValue", "DecimalValue", "DateTimeValue", "BoolValue",
                    "ObjectValueId", "ObjectValueName", "UserValueId", "UserValueName", "ContactValueId",
                    "ContactValueName", "ProductValueId", "ProductValueName", "CurrencyValueId")
VALUE_SHARE = 0.6  # of a record's custom fields, about this share holds a value

OPTIONS_TABLES = {  # Id -> (name, options)
    41001: ("Segmentos", ("Hospital", "Clínica", "Laboratório", "Indústria", "Varejo")),
    41002: ("Origens", ("Indicação", "Site", "Evento", "Prospecção ativa")),
    41003: ("Portes", ("Pequeno", "Médio", "Grande")),
    41004: ("Linhas de produto", ("Pães", "Confeitaria", "Salgados", "Bebidas")),
    41005: ("Condições de pagamento", ("À vista", "30 dias", "30/60/90")),
}
# (entity, name, TypeId, options table, multiple, key without a GUID, as older accounts have)
CUSTOM_FIELDS = (
    ("deals", "Segmento", 7, 41001, False, None),
    ("deals", "Origem", 7, 41002, False, None),
    ("deals", "Previsão de fechamento", 8, None, False, None),
    ("deals", "Observações", 2, None, False, None),
    ("deals", "Texto antigo", 1, None, False, "deal_textao"),
    ("deals", "Quantidade de leitos", 4, None, False, None),
    ("deals", "Desconto negociado", 13, None, False, None),
    ("deals", "Valor de implantação", 5, None, False, None),
    ("deals", "Prioritário", 10, None, False, None),
    ("deals", "Produtos de interesse", 7, 41004, True, None),
    ("deals", "Responsável técnico", 17, None, False, None),
    ("contacts", "Porte", 7, 41003, False, None),
    ("contacts", "Número de funcionários", 4, None, False, None),
    ("contacts", "Site", 1, None, False, None),
    ("orders", "Condição de pagamento", 7, 41005, False, None),
    ("orders", "Observação da venda", 1, None, False, None),
    ("quotes", "Validade em dias", 4, None, False, None),
    ("products", "Peso (kg)", 6, None, False, None),
)
BUILT_IN_FIELDS = (  # listed by /Fields too (Dynamic false), never in OtherProperties
    ("deals", "Título", 1, "Title"), ("deals", "Valor", 5, "Amount"), ("deals", "Cliente", 4, "ContactId"),
    ("contacts", "Nome", 1, "Name"), ("orders", "Valor", 5, "Amount"), ("products", "Código", 1, "Code"),
)
PIPELINE_RECORDS = [
    {"Id": 10001, "Name": "Vendas", "Color": "#1E88E5", "Archived": False, "Ordination": 1},
    {"Id": 10002, "Name": "Renovações", "Color": "#43A047", "Archived": False, "Ordination": 2},
    {"Id": 10003, "Name": "Funil antigo", "Color": "#9E9E9E", "Archived": True, "Ordination": 3},
]
STAGE_NAMES = ("Prospecção", "Qualificação", "Proposta", "Negociação", "Fechamento")
LOSS_REASON_NAMES = ("Preço", "Prazo de entrega", "Concorrente", "Sem orçamento", "Sem resposta", "Outro")
_WORDS = ("pão", "forno", "massa", "entrega", "cliente", "pedido", "padaria", "fermento", "visita", "contrato")


def field_key(entity: str, name: str, seed: int) -> str:
    """A custom field's key: the entity's prefix and a GUID, fixed by the seed and the name."""
    prefix = {"deals": "deal", "contacts": "contact", "orders": "order", "quotes": "quote", "products": "product"}
    return f"{prefix[entity]}_{str(uuid.uuid5(uuid.NAMESPACE_URL, f'{seed}/{entity}/{name}')).upper()}"


def generate_fields(seed: int) -> list[dict[str, Any]]:
    """``/Fields``: the built-in fields and the account's custom ones, with their Type."""
    fields = []
    for number, (entity, name, type_id, table, multiple, key) in enumerate(CUSTOM_FIELDS, start=1):
        fields.append(new_field(entity, name, type_id, 42000 + number, key or field_key(entity, name, seed),
                                table, multiple))
    for number, (entity, name, type_id, prop) in enumerate(BUILT_IN_FIELDS, start=1):
        built = new_field(entity, name, type_id, 41900 + number, f"{entity[:-1]}_{prop.lower()}", None, False)
        built.update(Dynamic=False, PropertyName=prop)
        fields.append(built)
    return fields


def new_field(entity: str, name: str, type_id: int, field_id: int, key: str, table: int | None,
              multiple: bool) -> dict[str, Any]:
    """A custom field's record as ``/Fields`` shows it (``Type`` expanded on demand)."""
    type_name, native = TYPES[type_id]
    return {"Id": field_id, "Key": key, "Name": name, "EntityId": ENTITY_IDS[entity], "SecondaryEntityId": None,
            "TypeId": type_id, "OptionsTableId": table, "Multiple": multiple, "Required": False, "Unique": False,
            "Disabled": False, "Hidden": False, "FormHidden": False, "Dynamic": True, "Filterable": True,
            "PropertyName": None, "OriginFieldKey": None, "Type": {"Id": type_id, "Name": type_name,
                                                                   "NativeType": native}}


def generate_options_tables(end: int) -> list[dict[str, Any]]:
    """``/Fields@OptionsTables`` with their ``Options``."""
    return [{"Id": table_id, "Name": name,
             "Options": [{"Id": table_id * 100 + n, "TableId": table_id, "Name": option, "ExternalKey": None,
                          "LastUpdateDate": render(end - table_id % 97 * 3600)}
                         for n, option in enumerate(options, start=1)]}
            for table_id, (name, options) in OPTIONS_TABLES.items()]


def generate_stages(pipelines: dict[int, tuple[int, ...]]) -> list[dict[str, Any]]:
    """``/Deals@Stages``: those of the deals' pipelines, and two of the archived one."""
    stages = [{"Id": stage, "Name": STAGE_NAMES[n % len(STAGE_NAMES)], "PipelineId": pipeline, "Ordination": n + 1}
              for pipeline, ids in pipelines.items() for n, stage in enumerate(ids)]
    return stages + [{"Id": 50021 + n, "Name": name, "PipelineId": 10003, "Ordination": n + 1}
                     for n, name in enumerate(("Contato", "Fechado"))]


def generate_loss_reasons(ids: Iterable[int]) -> list[dict[str, Any]]:
    """``/Deals@LossReasons``: every deal's loss reason, some of one pipeline only."""
    return [{"Id": reason, "Name": LOSS_REASON_NAMES[n % len(LOSS_REASON_NAMES)],
             "PipelineId": None if n % 3 else 10001} for n, reason in enumerate(ids)]


class Vocabulary:
    """What a record's custom values need to be rendered: the fields, option names, user names."""

    def __init__(self, fields: Callable[[], Iterable[dict[str, Any]]],
                 options: Callable[[], Iterable[dict[str, Any]]], users: Callable[[Any], dict[str, Any] | None]):
        self._fields, self._options, self._user = fields, options, users

    def custom_fields(self, entity: str) -> list[dict[str, Any]]:
        """The custom fields of ``entity`` that exist now."""
        return [f for f in self._fields() if f.get("Dynamic") and f.get("EntityId") == ENTITY_IDS[entity]]

    def values(self, entity: str, record_id: int, seed: int, users: list[int]) -> dict[str, Any]:
        """Generated custom values of one record, compact (on an RNG of its own)."""
        rng = random.Random(f"custom-{seed}-{entity}-{record_id}")
        options = self._option_ids()
        out: dict[str, Any] = {}
        for spec in self.custom_fields(entity):
            if rng.random() >= VALUE_SHARE:
                continue
            out[spec["Key"]] = _value(rng, spec, options, users)
        return out

    def _option_ids(self) -> dict[int, list[int]]:
        return {table["Id"]: [o["Id"] for o in table.get("Options") or ()] for table in self._options()}

    def items(self, entity: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The record's custom values as ``$expand=OtherProperties`` shows them."""
        compact = record.get("OtherProperties")
        if not isinstance(compact, dict) or not compact:
            return []
        by_key = {f["Key"]: f for f in self.custom_fields(entity)}
        names = {o["Id"]: o["Name"] for table in self._options() for o in table.get("Options") or ()}
        items = []
        for key, value in compact.items():
            spec = by_key.get(key)
            if spec is None or value is None:
                continue  # a field removed since: no value shows
            values = value if isinstance(value, list) else [value]
            for position, one in enumerate(values):
                item: dict[str, Any] = {"Id": spec["Id"] * 10**7 + record["Id"] % 10**7 * 10 + position,
                                        "FieldId": spec["Id"], "FieldKey": key, ITEM_OWNER[entity]: record["Id"],
                                        **dict.fromkeys(VALUE_PROPERTIES)}
                if spec["TypeId"] == OPTION_LIST:
                    item.update(IntegerValue=one, ObjectValueId=one, ObjectValueName=names.get(one))
                elif spec["TypeId"] == USER_REFERENCE:
                    user = self._user(one) or {}
                    item.update(UserValueId=one, UserValueName=user.get("Name"))
                else:
                    item[f"{spec['Type']['NativeType']}Value"] = one
                items.append(item)
        return items


def _value(rng: random.Random, spec: dict[str, Any], options: dict[int, list[int]], users: list[int]) -> Any:
    type_id = spec["TypeId"]
    if type_id == OPTION_LIST:
        choices = options.get(spec["OptionsTableId"]) or [0]
        return sorted(rng.sample(choices, rng.randint(1, min(3, len(choices))))) if spec["Multiple"] \
            else rng.choice(choices)
    if type_id == USER_REFERENCE:
        return rng.choice(users)
    native = spec["Type"]["NativeType"]
    if native == "String":
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))).capitalize()
    if native == "BigString":
        return "\n".join(" ".join(rng.choice(_WORDS) for _ in range(6)) for _ in range(rng.randint(2, 3)))
    if native == "Integer":
        return rng.randint(1, 500)
    if native == "Decimal":
        return round(rng.uniform(0, 100 if type_id == 13 else 50_000), 2 if type_id == 5 else 4)
    if native == "DateTime":
        return render(1_700_000_000 + rng.randrange(80_000_000), ".5" if rng.random() < 0.5 else "")
    return rng.random() < 0.5  # Bool
