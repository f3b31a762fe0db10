"""Meter profiles: the shipped ones validate, broken ones are refused naming file, field, reason."""

from __future__ import annotations

import tomllib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rig.errors import ConfigError
from rig.profile import (
    DEFAULT_PROFILE,
    CreditKind,
    available_profiles,
    load_profile,
    load_profile_file,
    profile_files,
)


def test_every_shipped_profile_validates() -> None:
    names = available_profiles()
    assert DEFAULT_PROFILE in names
    assert {"iec62056-1p-energy", "dlt645-3p-power-limit"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert set(profile.register_map) >= {"energy_total", "remaining_credit", "status"}


def test_three_shapes_as_the_issue_asks() -> None:
    money = load_profile("dlt645-1p-money")
    energy = load_profile("iec62056-1p-energy")
    three = load_profile("dlt645-3p-power-limit")
    assert (money.protocol.kind, money.credit.unit) == ("dlt645-2007", CreditKind.MONEY)
    assert (energy.protocol.kind, energy.credit.unit) == ("iec62056-21", CreditKind.ENERGY)
    assert energy.protocol.serial.bytesize == 7 and energy.protocol.serial.parity == "E"
    assert three.metering.phases == 3 and three.power_limit is not None
    assert three.power_limit.max_power_w == Decimal(10000)


def test_register_map_defaults_follow_protocol_and_credit_unit() -> None:
    assert load_profile("dlt645-1p-money").register_map["remaining_credit"] == "00900200"
    assert load_profile("iec62056-1p-energy").register_map["energy_total"] == "1.8.0"


def test_friendly_periods_wrap_midnight_weekends_holidays() -> None:
    fp = load_profile("iec62056-1p-energy").friendly_periods
    assert fp is not None
    assert fp.contains(datetime(2026, 3, 4, 23, 0))  # Wednesday night
    assert fp.contains(datetime(2026, 3, 4, 6, 59))
    assert not fp.contains(datetime(2026, 3, 4, 7, 0))
    assert fp.contains(datetime(2026, 3, 7, 12, 0))  # Saturday
    assert fp.contains(datetime(2026, 5, 1, 12, 0))  # holiday (a Friday)
    assert fp.next_change(datetime(2026, 3, 4, 12, 0)) == datetime(2026, 3, 4, 18, 0)
    # Friday 18:00 runs into the weekend and ends Monday 07:00.
    assert fp.next_change(datetime(2026, 3, 6, 19, 0)) == datetime(2026, 3, 9, 7, 0)


BASE = profile_files()["dlt645-1p-money"].read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ('address = "000000001001"', 'address = "12345"', "protocol", "12 decimal digits"),
        ('kind = "dlt645-2007"', 'kind = "modbus"', "protocol.kind", "dlt645-2007"),
        ('alarm2 = "5.00"', 'alarm2 = "15.00"', "thresholds", "alarm2 must not exceed alarm1"),
        ('alarm1_actions = ["display", "buzzer"]', 'alarm1_actions = ["relay_trip"]',
         "thresholds", "only allowed on alarm 2"),
        ('alarm2_actions = ["display", "buzzer"]', 'alarm2_actions = ["siren"]',
         "thresholds.alarm2_actions.0", "display"),
        ('amount = "5.00"', 'amount = "0"', "emergency_credit.amount", "greater than 0"),
        ('factory_price_per_kwh = "0.5000"', 'factory_price_per_kwh = "1e999"',
         "credit.factory_price_per_kwh", "less than or equal to 429496.7295"),
        ('factory_price_per_kwh = "0.5000"', 'factory_price_per_kwh = "0.12345"',
         "credit.factory_price_per_kwh", "4 decimal places"),
        ('activation = "on_request"', 'activation = "sometimes"',
         "emergency_credit.activation", "automatic"),
        ('password = "02000000"', 'password = "secret"', "protocol.dlt645.password",
         "8 hex digits"),
        ('capabilities = ["dlt645", "money", "emergency_credit", "remote_relay_control"]',
         'capabilities = ["power_limit"]', "capabilities", "'power_limit' is declared"),
        ('accuracy_class = "1"', 'accuracy_class = "3"', "metering.accuracy_class", "0.5S"),
        ('[card]', '[card]\ncolour = "red"', "card.colour", "Extra inputs"),
        ('[metering]', '[registers]\nremaining_credit = "00901234"\n\n[metering]',
         "registers", "remaining_credit: data identifier 00901234"),
        ('[metering]', '[registers]\nlast_card_refusal = "03301300"\n\n[metering]',
         "registers", "last_card_refusal: data identifier 03301300 is not an abnormal card"),
        ('[metering]', '[registers]\ncard_refusal_count = "03301302"\n\n[metering]',
         "registers", "card_refusal_count: data identifier 03301302 is an abnormal card"),
        ('[metering]', '[friendly_periods]\nhours = [{ start = "07:00", end = "07:00" }]\n\n'
         '[metering]', "friendly_periods.hours.0", "empty window"),
        ('[metering]', '[power_limit]\nreconnect_delay_s = 5\n\n[metering]', "power_limit",
         "max_power_w or max_current_a"),
    ],
)
def test_invalid_profile_names_file_field_reason(
    tmp_path: Path, old: str, new: str, field: str, reason: str
) -> None:
    assert old in BASE, old
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message
    assert f"{field}:" in message
    assert reason in message


def test_iec_profile_refuses_dlt645_settings_and_bad_obis(tmp_path: Path) -> None:
    text = profile_files()["iec62056-1p-energy"].read_text(encoding="utf-8")
    path = _write(tmp_path, text.replace('status = "C.5.0"', 'status = "status-word"'))
    with pytest.raises(ConfigError, match=r"registers: .*status: 'status-word' is not an OBIS"):
        load_profile_file(path)
    path = _write(tmp_path, text.replace("[credit]", '[protocol.dlt645]\npassword = "02000000"'
                                         "\n\n[credit]"))
    with pytest.raises(ConfigError, match="dlt645: settings given for an iec62056-21 meter"):
        load_profile_file(path)
    path = _write(tmp_path, text.replace("max_baudrate = 9600", "max_baudrate = 7"))
    with pytest.raises(ConfigError, match=r"protocol\.iec62056\.max_baudrate"):
        load_profile_file(path)


def test_not_toml_and_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile_file(_write(tmp_path, "[identity\n"))
    with pytest.raises(ConfigError, match=r"not found .*known: .*dlt645-1p-money"):
        load_profile("no-such-meter")


def test_amounts_are_exact_decimals() -> None:
    raw = tomllib.loads(BASE)
    assert raw["thresholds"]["alarm1"] == "10.00"
    t = load_profile().thresholds
    assert isinstance(t.alarm1, Decimal) and t.alarm1 == Decimal("10.00")
