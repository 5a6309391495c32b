"""Deterministic generation of Ploomes-like contacts and deals from a seed.

The data carries the traps of the real account on purpose: null amounts, null and dangling
contact ids, titles with control characters, quotes and emoji, deals a few minutes either side
of New Year's midnight in São Paulo, dates with fractions of every length, CNPJs formatted,
bare or missing, and zip codes as numbers that lost their leading zero.
"""

from __future__ import annotations

import random
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from . import commerce
from .dates import render, sao_paulo_epoch, sao_paulo_midnight

CLIENT_TAG_ID = 40006184
TAG_NAMES = {
    40006184: "Cliente",
    40006185: "Fornecedor",
    40006190: "Parceiro",
    40006201: "Inativo",
    40006222: "VIP São Paulo",
}
ACCOUNT_RECORD = {"Id": 10023456, "Name": "Panificadora Simulada Ltda"}
DEAL_STATUS_RECORDS = [
    {"Id": 1, "Name": "Em aberto"},
    {"Id": 2, "Name": "Ganha"},
    {"Id": 3, "Name": "Perdida"},
]
CONTACT_TYPE_RECORDS = [{"Id": 1, "Name": "Empresa"}, {"Id": 2, "Name": "Pessoa"}]

STATUS_OPEN, STATUS_WON, STATUS_LOST = 1, 2, 3
FIRST_DEAL_ID = 400_000_000
FIRST_CONTACT_ID = 30_000_000
DEALS_START = sao_paulo_epoch(2023, 1, 1)
CONTACTS_START = sao_paulo_epoch(2021, 1, 1)

USER_IDS = (40010001, 40010002, 40010005, 40010011, 40010017, 40010023, 40010042, 40010057)
PIPELINES = {10001: (50001, 50002, 50003, 50004, 50005), 10002: (50011, 50012, 50013, 50014)}
LOSS_REASON_IDS = (70001, 70002, 70003, 70004, 70005, 70006)
STATE_IDS = (25, 25, 25, 25, 19, 11, 18, 7, 26)

_COMPANY_PREFIXES = (
    "Padaria",
    "Comércio",
    "Distribuidora",
    "Mercado",
    "Farmácia",
    "Construtora",
    "Açougue",
    "Indústria",
    "Confeitaria",
    "Papelaria",
    "Transportadora",
    "Ótica",
    "Lanchonete",
    "Empório",
)
_COMPANY_CORES = (
    "São João",
    "Ãguia",
    "Águia",
    "Boa Esperança",
    "Santa Luzia",
    "Irmãos Gonçalves",
    "Pão Dourado",
    "Três Corações",
    "Vitória",
    "Conceição",
    "Nossa Senhora Aparecida",
    "Paraná",
    "Ipê Amarelo",
    "Jequitibá",
    "Itaquerão",
    "Rio Preto",
    "Guaçu",
    "Maré Alta",
)
_COMPANY_SUFFIXES = (" Ltda", " Ltda", " ME", " EIRELI", " S.A.", "", "", " Ltda.")
_FIRST_NAMES = (
    "José",
    "João",
    "Maria",
    "Ana",
    "Antônio",
    "Conceição",
    "Luís",
    "Sérgio",
    "Fátima",
    "Márcia",
    "Flávio",
    "Inês",
    "Cláudia",
    "Mônica",
    "Débora",
    "Júlio",
)
_SURNAMES = (
    "da Silva",
    "Gonçalves",
    "Conceição",
    "Araújo",
    "Simões",
    "Magalhães",
    "Brandão",
    "Romão",
    "Assunção",
    "D'Ávila",
    "Peçanha",
    "Lopes",
)
_PRODUCTS = (
    "Pães artesanais",
    "Bolo de aniversário",
    "Café da manhã corporativo",
    "Salgados para evento",
    "Assinatura mensal",
    "Fornecimento de farinha",
    "Forno elétrico",
    "Manutenção preventiva",
    "Licença anual",
    "Consultoria",
    "Panetones de Natal",
    "Cestas de Páscoa",
)
_TRICKY_TITLES = (
    'Proposta "Premium" – {c}',
    "Pedido d'Ávila\tUrgente",
    "Linha 1\nLinha 2 {c}",
    "Caminho C:\\pasta\\arquivo.txt",
    "Venda 🚀 Expansão {c}",
    "Orçamento 😀👍 ",
    "Ação: \"aspas\" e 'apóstrofos'",
    "  espaços nas pontas  ",
    "\\N",
    "Fim com barra \\",
    "Retorno\r\nde carro",
    "Ponto sozinho\n\\.\nna linha",
    "Tab\tno\tmeio; vírgula, e ponto-e-vírgula",
    "Coração ❤️ São Paulo",
)
_EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "uol.com.br", "bol.com.br", "terra.com.br")


@dataclass
class Dataset:
    """Generated records, each list sorted by Id. Contacts carry their full Tags, orders and quotes
    their lines (``Products``)."""

    deals: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    end: int  # epoch seconds: nothing was created or updated after this
    products: list[dict[str, Any]]
    quotes: list[dict[str, Any]]
    orders: list[dict[str, Any]]


def default_end() -> int:
    """The São Paulo midnight that began today: generation is stable for a whole day."""
    return sao_paulo_midnight(time.time())


def generate(deals: int, contacts: int, seed: int, end: int | None = None,
             dated_ahead_percent: float = 0.0) -> Dataset:
    """Contacts, deals, then products, quotes and orders (:mod:`.commerce`), deterministic for a given
    ``(deals, contacts, seed, end, dated_ahead_percent)``.

    ``dated_ahead_percent`` of each entity's records carry a LastUpdateDate 2 to 6 days after
    ``end`` (so at least a day after the API's clock), as a clock glitch or an import leaves them.
    """
    if deals < 0 or contacts < 0:
        raise ValueError("record counts must not be negative")
    end = default_end() if end is None else end
    rng = random.Random(seed)
    contact_records = _generate_contacts(rng, contacts, end)
    deal_records = _generate_deals(rng, deals, contact_records, end)
    if dated_ahead_percent:
        ahead = random.Random(f"dated-ahead-{seed}")
        for records in (contact_records, deal_records):
            for record in ahead.sample(records, round(len(records) * dated_ahead_percent / 100)):
                record["LastUpdateDate"] = render(end + 2 * 86400 + ahead.randrange(4 * 86400), fraction(ahead))
    sold = commerce.generate(deal_records, seed, end)
    return Dataset(deals=deal_records, contacts=contact_records, end=end, products=sold.products,
                   quotes=sold.quotes, orders=sold.orders)


INTEGRATION_USER_ID = 40010099  # the user the sync's key belongs to


def generate_users(end: int) -> list[dict[str, Any]]:
    """The account's users (``/Users``): the owners and updaters of the generated deals (the first the
    account's owner, the last suspended), and the integration user of the key."""
    users = [{"Id": user_id, "Name": f"Usuário {n}", "Email": f"usuario{n}@example.com.br",
              "Phone": f"+55 11 9{n:04d}-{n * 7:04d}", "RoleId": 1 if n == 1 else 2, "ProfileId": 1 if n == 1 else 3,
              "Suspended": n == len(USER_IDS), "Integration": False, "AccountOwner": n == 1,
              "CreateDate": render(DEALS_START - (n + 1) * 86400), "LastUpdateDate": render(end - n * 3600, ".5")}
             for n, user_id in enumerate(USER_IDS, start=1)]
    return users + [{"Id": INTEGRATION_USER_ID, "Name": "Integração ploomes-sync", "Email": None, "Phone": None,
                     "RoleId": 3, "ProfileId": 4, "Suspended": False, "Integration": True, "AccountOwner": False,
                     "CreateDate": render(DEALS_START), "LastUpdateDate": render(DEALS_START, ".13")}]


# --- helpers shared by both entities ---------------------------------------------------------


def fraction(rng: random.Random) -> str:
    """A seconds fraction the way the API renders them: none, 1, 2, 3 or 7 digits."""
    roll = rng.random()
    if roll < 0.25:
        return ""
    millis = rng.randrange(1000)
    if roll < 0.65:
        return f".{millis:03d}"
    if roll < 0.80:
        return f".{millis // 10:02d}"
    if roll < 0.85:
        return f".{millis // 100}"
    if roll < 0.93:
        return f".{millis:03d}0000"
    return f".{millis:03d}{rng.randrange(10000):04d}"


def _later(rng: random.Random, start: int, end: int, max_days: float) -> int:
    """An instant after ``start`` (by at least a second), capped at ``end``."""
    return min(end, start + 1 + int(rng.random() * max_days * 86400))


def check_digits(digits: str, weights: tuple[int, ...]) -> str:
    """The modulus-11 check digit used by CNPJ and CPF."""
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def make_cnpj(rng: random.Random) -> str:
    """A valid bare CNPJ (14 digits)."""
    base = f"{rng.randrange(10**8):08d}" + ("0001" if rng.random() < 0.85 else f"{rng.randrange(1, 30):04d}")
    first = check_digits(base, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    second = check_digits(base + first, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    return base + first + second


def format_cnpj(bare: str) -> str:
    """``12345678000190`` -> ``12.345.678/0001-90``."""
    return f"{bare[:2]}.{bare[2:5]}.{bare[5:8]}/{bare[8:12]}-{bare[12:]}"


def make_cpf(rng: random.Random) -> str:
    """A valid bare CPF (11 digits)."""
    base = f"{rng.randrange(1, 10**9):09d}"
    first = check_digits(base, (10, 9, 8, 7, 6, 5, 4, 3, 2))
    second = check_digits(base + first, (11, 10, 9, 8, 7, 6, 5, 4, 3, 2))
    return base + first + second


def format_cpf(bare: str) -> str:
    """``12345678909`` -> ``123.456.789-09``."""
    return f"{bare[:3]}.{bare[3:6]}.{bare[6:9]}-{bare[9:]}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def tag_entry(tag_id: int) -> dict[str, Any]:
    """One element of a contact's ``Tags`` in full (``$expand=Tags($expand=Tag)``) form."""
    return {"TagId": tag_id, "Tag": {"Id": tag_id, "Name": TAG_NAMES.get(tag_id, f"Tag {tag_id}")}}


# --- contacts --------------------------------------------------------------------------------


def _company_identity(rng: random.Random) -> dict[str, Any]:
    name = f"{rng.choice(_COMPANY_PREFIXES)} {rng.choice(_COMPANY_CORES)}{rng.choice(_COMPANY_SUFFIXES)}"
    cnpj = make_cnpj(rng)
    roll = rng.random()
    cnpj_value: str | None
    register: str | None = None
    if roll < 0.40:
        cnpj_value = format_cnpj(cnpj)
    elif roll < 0.70:
        cnpj_value = cnpj
    elif roll < 0.85:  # only Register holds it
        cnpj_value = None
        register = format_cnpj(cnpj) if rng.random() < 0.5 else cnpj
    else:
        cnpj_value = None
    if cnpj_value is not None and rng.random() < 0.3:
        register = cnpj_value
    legal = name.rstrip(".").upper() if rng.random() < 0.3 else name
    return {
        "TypeId": 1,
        "Name": name,
        "LegalName": legal,
        "Register": register,
        "CNPJ": cnpj_value,
        "CPF": None,
    }


def _person_identity(rng: random.Random) -> dict[str, Any]:
    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
    cpf = make_cpf(rng)
    roll = rng.random()
    cpf_value = format_cpf(cpf) if roll < 0.5 else cpf if roll < 0.8 else None
    register = cpf_value if cpf_value is not None and rng.random() < 0.3 else None
    return {
        "TypeId": 2,
        "Name": name,
        "LegalName": None,
        "Register": register,
        "CNPJ": None,
        "CPF": cpf_value,
    }


def _generate_contacts(rng: random.Random, count: int, end: int) -> list[dict[str, Any]]:
    span = max(1, end - CONTACTS_START)
    created = sorted(CONTACTS_START + int(rng.random() * span) for _ in range(count))
    records: list[dict[str, Any]] = []
    contact_id = FIRST_CONTACT_ID + rng.randrange(1000)
    for create_at in created:
        contact_id += rng.randint(2, 40)  # gaps of at least 2: Id + 1 never exists
        identity = _company_identity(rng) if rng.random() < 0.75 else _person_identity(rng)
        if rng.random() < 0.85:
            if identity["TypeId"] == 1:
                local = "contato" if rng.random() < 0.6 else "financeiro"
                email = f"{local}@{_slug(identity['Name'])[:24]}.com.br"
            else:
                email = f"{_slug(identity['Name'])}{rng.randrange(100)}@{rng.choice(_EMAIL_DOMAINS)}"
        else:
            email = None
        zip_code = None
        if rng.random() < 0.9:
            first = rng.choice("00001123456789")
            zip_code = int(f"{first}{rng.randrange(10**7):07d}")  # a CEP such as 01310-100 -> 1310100
        state_id = rng.choice(STATE_IDS) if rng.random() < 0.95 else None
        city_id = state_id * 1000 + rng.randrange(60) if state_id is not None else None
        create_date = render(create_at, fraction(rng))
        update_date = (
            create_date if rng.random() < 0.2 else render(_later(rng, create_at, end, 400), fraction(rng))
        )
        tags = [CLIENT_TAG_ID] if rng.random() < 0.6 else []
        tags += [tag for tag in TAG_NAMES if tag != CLIENT_TAG_ID and rng.random() < 0.1]
        record = {"Id": contact_id, **identity}
        record.update(
            StatusId=1 if rng.random() < 0.9 else rng.choice((2, 3)),
            Email=email,
            ZipCode=zip_code,
            CityId=city_id,
            StateId=state_id,
            CreateDate=create_date,
            LastUpdateDate=update_date,
            Tags=[tag_entry(tag) for tag in sorted(tags)],
        )
        records.append(record)
    return records


# --- deals -----------------------------------------------------------------------------------


def _boundary_instants(end: int) -> list[int]:
    """Instants around each New Year's midnight (São Paulo) inside the deal period.

    Some are minutes before or after midnight; some fall on 31 December in São Paulo but
    already in the next year in UTC (21:00 to 23:59 local), the classic time zone trap.
    """
    offsets = (-4 * 3600 + 59, -2 * 3600 - 1800, -90 * 60, -110, -7, 0, 60, 7 * 60, 3 * 3600 + 5)
    instants = []
    for year in range(2024, 2100):
        midnight = sao_paulo_epoch(year)
        if midnight >= end:
            break
        instants += [midnight + offset for offset in offsets if DEALS_START <= midnight + offset < end]
    return instants


def _title(rng: random.Random, contact_name: str | None, number: int) -> str:
    roll = rng.random()
    who = contact_name or "Cliente avulso"
    if roll < 0.06:
        return rng.choice(_TRICKY_TITLES).replace("{c}", who)
    if roll < 0.55:
        return f"{rng.choice(_PRODUCTS)} - {who}"
    if roll < 0.85:
        return f"{rng.choice(_PRODUCTS)} ({who.split(' ')[0]})"
    return f"Pedido nº {number}"


def _amount(rng: random.Random) -> float | int:
    value = rng.lognormvariate(8.0, 1.2)
    if rng.random() < 0.1:
        return int(round(value, -2))
    return round(value, 2)


def _generate_deals(
    rng: random.Random, count: int, contacts: list[dict[str, Any]], end: int
) -> list[dict[str, Any]]:
    boundary = _boundary_instants(end)[: max(0, count // 20)]
    span = max(1, end - DEALS_START)
    created = [DEALS_START + int(rng.random() * span) for _ in range(count - len(boundary))]
    created = sorted(created + boundary)
    contact_ids = [c["Id"] for c in contacts]
    contact_names = [c["Name"] for c in contacts]
    person_ids = [c["Id"] for c in contacts if c["TypeId"] == 2]
    pipeline_ids = tuple(PIPELINES)
    records: list[dict[str, Any]] = []
    deal_id = FIRST_DEAL_ID + rng.randrange(1000)
    number = 1000 + rng.randrange(100)
    recent = end - 90 * 86400
    for create_at in created:
        deal_id += rng.randint(1, 60)
        number += 1 if rng.random() < 0.97 else rng.randint(2, 5)
        if rng.random() < 0.01:  # imported later: Id order and CreateDate order disagree
            create_at = DEALS_START + int(rng.random() * max(1, create_at - DEALS_START))
        roll = rng.random()
        if roll < 0.05 or not contact_ids:
            contact_id, contact_name = None, None
        elif roll < 0.07:  # points at a contact that does not exist
            contact_id = rng.choice(contact_ids) + 1
            contact_name = f"{rng.choice(_COMPANY_PREFIXES)} Removida {rng.randrange(100)}"
        else:
            index = rng.randrange(len(contact_ids))
            contact_id, contact_name = contact_ids[index], contact_names[index]
        pipeline = rng.choice(pipeline_ids)
        status_roll = rng.random()
        if create_at >= recent:
            status = STATUS_OPEN if status_roll < 0.6 else STATUS_WON if status_roll < 0.8 else STATUS_LOST
        else:
            status = STATUS_OPEN if status_roll < 0.15 else STATUS_WON if status_roll < 0.6 else STATUS_LOST
        amount = None if rng.random() < 0.03 else _amount(rng)
        start_roll = rng.random()
        start_amount = amount if start_roll < 0.7 else None if start_roll < 0.72 else _amount(rng)
        create_date = render(create_at, fraction(rng))
        finish_date = None
        finish_at = create_at
        if status != STATUS_OPEN and not (status == STATUS_WON and rng.random() < 0.015):
            finish_at = _later(rng, create_at, end, 120)
            finish_date = render(finish_at, fraction(rng))
        if rng.random() < 0.1 and finish_date is None:
            update_date = create_date
        else:
            update_date = render(_later(rng, finish_at, end, 30), fraction(rng))
        owner = rng.choice(USER_IDS)
        records.append(
            {
                "Id": deal_id,
                "Title": _title(rng, contact_name, number),
                "ContactId": contact_id,
                "ContactName": contact_name,
                "PersonId": rng.choice(person_ids) if person_ids and rng.random() < 0.25 else None,
                "PipelineId": pipeline,
                "StageId": rng.choice(PIPELINES[pipeline]),
                "StatusId": status,
                "OwnerId": owner,
                "CurrencyId": 1 if rng.random() < 0.97 else 2,
                "Amount": amount,
                "StartAmount": start_amount,
                "StartDate": render(sao_paulo_midnight(create_at)),
                "FinishDate": finish_date,
                "CreateDate": create_date,
                "LastUpdateDate": update_date,
                "DealNumber": number,
                "WonQuoteId": rng.randrange(900_000, 999_999)
                if status == STATUS_WON and rng.random() < 0.4
                else None,
                "LossReasonId": rng.choice(LOSS_REASON_IDS)
                if status == STATUS_LOST and rng.random() < 0.7
                else None,
                "CreatorId": owner if rng.random() < 0.8 else rng.choice(USER_IDS),
                "UpdaterId": rng.choice(USER_IDS),
            }
        )
    return records
