"""The configuration Variable: no value can switch a guard off, and every refusal says what the key takes."""

from __future__ import annotations

import dataclasses

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.config import KNOBS, ConfigError, SyncConfig, load_config, parse_config


class TestParse:
    def test_nothing_set_is_the_defaults(self) -> None:
        assert parse_config(None) == parse_config("  ") == SyncConfig()

    def test_keys_set_are_taken_and_the_rest_keep_their_defaults(self) -> None:
        config = parse_config('{"lookback_minutes": 45, "max_deletion_rows": 50, "max_deletion_share": 0.05}')
        assert (config.lookback_minutes, config.max_deletion_rows, config.max_deletion_share) == (45, 50, 0.05)
        assert config.client_tag_id == SyncConfig().client_tag_id

    @pytest.mark.parametrize("text", ['{"lookback_minutes": 30,}', "{lookback_minutes: 30}", '{"a": 1'])
    def test_text_that_is_not_json_fails_at_once_and_says_so(self, text: str) -> None:
        with pytest.raises(ConfigError, match="is not valid JSON") as raised:
            parse_config(text)
        assert isinstance(raised.value, AirflowFailException)  # a retry cannot change it

    def test_a_json_value_that_is_not_an_object_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="must be a JSON object"):
            parse_config("[1, 2]")

    def test_an_unknown_key_is_refused_naming_the_known_ones(self) -> None:
        with pytest.raises(ConfigError, match=r"unknown keys \['max_deletions'\]; known keys: .*max_deletion_rows"):
            parse_config('{"max_deletions": 3}')

    def test_a_retired_key_is_accepted_with_a_warning(self, caplog: pytest.LogCaptureFixture) -> None:
        assert parse_config('{"safety_lag_seconds": 60}') == SyncConfig()
        assert "no longer used" in caplog.text


class TestNoValueTurnsAGuardOff:
    @pytest.mark.parametrize(("key", "text"), [
        ("max_deletion_share", "NaN"), ("max_reject_ratio", "NaN"), ("max_deletion_share", "Infinity"),
        ("max_deletion_rows", "-Infinity"),
    ])
    def test_json_s_nan_and_infinity_are_no_numbers(self, key: str, text: str) -> None:
        with pytest.raises(ConfigError, match="not valid JSON"):
            parse_config(f'{{"{key}": {text}}}')

    @pytest.mark.parametrize(("key", "value"), [
        ("max_deletion_share", 1.7), ("max_reject_ratio", 2), ("listing_budget_share", 0),
        ("max_deletion_rows", 1.7), ("max_deletion_rows", True), ("max_deletion_rows", "200"),
        ("reject_allowance", -1), ("lookback_minutes", False), ("webhook_batch_size", 0),
        ("stale_after_hours", 0), ("client_tag_id", 0), ("max_deletion_share", None),
        ("deletion_guard_min_rows", 10.0), ("lookback_minutes", 10**9),
    ])
    def test_a_value_of_the_wrong_type_or_out_of_bounds_names_the_key_and_what_it_takes(self, key, value) -> None:
        with pytest.raises(ConfigError) as raised:
            SyncConfig.from_mapping({key: value})
        message = str(raised.value)
        assert key in message and repr(value) in message
        assert ("a whole number" if KNOBS[key].whole else "a finite number") in message and " to " in message

    def test_every_field_has_bounds_and_the_defaults_are_within_them(self) -> None:
        assert set(KNOBS) == {spec.name for spec in dataclasses.fields(SyncConfig)} - {"streams"}
        SyncConfig()  # checks itself

    def test_a_config_built_in_code_is_checked_too(self) -> None:
        with pytest.raises(ConfigError, match="max_deletion_share"):
            dataclasses.replace(SyncConfig(), max_deletion_share=float("nan"))


class TestTheVariable:
    def test_the_variable_is_parsed_by_the_sync_not_by_airflow(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Airflow's Variable.get(deserialize_json=True) answers the default for text that is not JSON
        monkeypatch.setenv("AIRFLOW_VAR_PLOOMES_SYNC_CONFIG", '{"lookback_minutes": 30,}')
        with pytest.raises(ConfigError, match="not valid JSON"):
            load_config()
        monkeypatch.setenv("AIRFLOW_VAR_PLOOMES_SYNC_CONFIG", '{"lookback_minutes": 12}')
        assert load_config().lookback_minutes == 12
