"""The generated data: deterministic, and as awkward as the real account."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_simulator.data import generate
from ploomes_simulator.dates import sao_paulo_epoch
from tests.simulator.sim_support import start

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?-03:00")
END = sao_paulo_epoch(2026, 11, 22)


def cnpj_is_valid(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if len(digits) != 14:
        return False

    def check(body: str, weights: list[int]) -> str:
        remainder = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
        return "0" if remainder < 2 else str(11 - remainder)

    first = check(digits[:12], [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = check(digits[:12] + first, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return digits[12:] == first + second


@pytest.fixture(scope="module")
def dataset() -> Any:
    return generate(deals=3000, contacts=300, seed=5, end=END)


class TestDeterminism:
    def test_same_seed_same_truth_over_http(self, api_key: str) -> None:
        truths = []
        for _ in range(2):
            with start(api_key, seed=9) as sim:
                truths.append((sim.admin.truth_deals(custom=True), sim.admin.truth_contacts(custom=True)))
        assert truths[0] == truths[1]
        with start(api_key, seed=10) as sim:
            assert sim.admin.truth_deals() != truths[0][0]

    def test_same_seed_same_records(self) -> None:
        assert generate(500, 40, 3, END) == generate(500, 40, 3, END)

    def test_counts_are_honoured(self, sim: RunningSimulator) -> None:
        assert (len(sim.admin.truth_deals()), len(sim.admin.truth_contacts())) == (700, 50)


class TestDeals:
    def test_ids_ascend_with_gaps(self, dataset: Any) -> None:
        ids = [d["Id"] for d in dataset.deals]
        assert ids == sorted(set(ids))
        assert 400_000_000 <= ids[0] < 400_100_000
        assert len({b - a for a, b in zip(ids, ids[1:], strict=False)}) > 10

    def test_awkward_values_exist(self, dataset: Any) -> None:
        contact_ids = {c["Id"] for c in dataset.contacts}
        deals = dataset.deals
        assert any(d["Amount"] is None for d in deals)
        assert any(d["ContactId"] is None for d in deals)
        assert any(d["ContactId"] is not None and d["ContactId"] not in contact_ids for d in deals)
        assert any(isinstance(d["Amount"], float) and d["Amount"] != round(d["Amount"]) for d in deals)
        assert all(d["Amount"] is None or round(d["Amount"], 2) == d["Amount"] for d in deals)

    @pytest.mark.parametrize("needle", ["\t", "\n", '"', "'", "\\", "🚀", "ã", "\r"])
    def test_tricky_titles_exist(self, dataset: Any, needle: str) -> None:
        assert any(needle in d["Title"] for d in dataset.deals)

    def test_statuses_and_finish_dates(self, dataset: Any) -> None:
        deals = dataset.deals
        assert Counter(d["StatusId"] for d in deals).keys() == {1, 2, 3}
        assert all(d["FinishDate"] is None for d in deals if d["StatusId"] == 1)
        assert any(d["FinishDate"] is None for d in deals if d["StatusId"] == 2)
        assert sum(d["FinishDate"] is not None for d in deals if d["StatusId"] == 2) > 0.9 * sum(
            d["StatusId"] == 2 for d in deals
        )

    def test_dates_have_offset_and_fractions_of_every_length(self, dataset: Any) -> None:
        dates = [d[k] for d in dataset.deals for k in ("CreateDate", "LastUpdateDate") if d[k]]
        assert all(DATE_RE.fullmatch(text) for text in dates)
        lengths = {len(m.group(1) or "") for m in map(DATE_RE.fullmatch, dates) if m}
        assert {0, 2, 3, 4, 8} <= lengths  # none, .1x, .12x, .123x, .1234567 (dot included)

    def test_last_update_is_never_before_create(self, dataset: Any) -> None:
        for deal in dataset.deals:
            assert datetime.fromisoformat(deal["LastUpdateDate"]) >= datetime.fromisoformat(
                deal["CreateDate"]
            )

    def test_created_between_2023_and_the_end(self, dataset: Any) -> None:
        created = [datetime.fromisoformat(d["CreateDate"]) for d in dataset.deals]
        assert min(created) >= datetime(2023, 1, 1, tzinfo=SAO_PAULO)
        assert max(created) <= datetime(2026, 11, 22, tzinfo=SAO_PAULO)

    @pytest.mark.parametrize("year", [2024, 2025, 2026])
    def test_deals_either_side_of_new_year_in_sao_paulo(self, dataset: Any, year: int) -> None:
        midnight = datetime(year, 1, 1, tzinfo=SAO_PAULO)
        near = [
            datetime.fromisoformat(d["CreateDate"])
            for d in dataset.deals
            if abs(datetime.fromisoformat(d["CreateDate"]) - midnight) <= timedelta(minutes=5)
        ]
        assert any(moment < midnight for moment in near) and any(moment >= midnight for moment in near)
        utc_trap = [
            d
            for d in dataset.deals
            if (moment := datetime.fromisoformat(d["CreateDate"])).astimezone(SAO_PAULO).year == year - 1
            and moment.astimezone(ZoneInfo("UTC")).year == year
        ]
        assert utc_trap  # 31 December in São Paulo, already the new year in UTC


class TestContacts:
    def test_zip_codes_are_numbers_that_lost_leading_zeros(self, dataset: Any) -> None:
        zips = [c["ZipCode"] for c in dataset.contacts]
        assert None in zips
        numbers = [z for z in zips if z is not None]
        assert all(type(z) is int and 0 < z < 100_000_000 for z in numbers)
        assert any(z < 10_000_000 for z in numbers)

    def test_cnpj_formatted_bare_missing_or_only_in_register(self, dataset: Any) -> None:
        companies = [c for c in dataset.contacts if c["TypeId"] == 1]
        cnpjs = [c["CNPJ"] for c in companies]
        assert any(v and re.fullmatch(r"\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}", v) for v in cnpjs)
        assert any(v and re.fullmatch(r"\d{14}", v) for v in cnpjs)
        assert None in cnpjs
        assert any(c["CNPJ"] is None and c["Register"] and cnpj_is_valid(c["Register"]) for c in companies)
        assert all(cnpj_is_valid(v) for v in cnpjs if v)
        assert all(c["CPF"] is None for c in companies)

    def test_people_have_cpfs(self, dataset: Any) -> None:
        people = [c for c in dataset.contacts if c["TypeId"] == 2]
        assert people and any(c["CPF"] for c in people)
        assert all(c["CNPJ"] is None for c in people)

    def test_names_carry_accents(self, dataset: Any) -> None:
        assert any(re.search(r"[ãáâçéêíóôõú]", c["Name"], re.IGNORECASE) for c in dataset.contacts)

    def test_about_sixty_percent_are_clients(self, dataset: Any) -> None:
        tagged = [c for c in dataset.contacts if any(t["TagId"] == 40006184 for t in c["Tags"])]
        assert 0.45 < len(tagged) / len(dataset.contacts) < 0.75
        assert any(t["TagId"] != 40006184 for c in dataset.contacts for t in c["Tags"])
        assert all(
            t["Tag"]["Id"] == t["TagId"] and t["Tag"]["Name"] for c in dataset.contacts for t in c["Tags"]
        )
