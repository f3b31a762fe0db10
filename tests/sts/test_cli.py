"""`rig sts` as a lab uses it: the conformance vectors by hand, and one-line refusals (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.sts import vectors as v

RIG = [sys.executable, "-m", "rig.cli.main", "sts"]


def sts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RIG, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def meter_args(vending_key: str, sgc: str) -> list[str]:
    return ["--vending-key", vending_key, "--pan", v.PAN, "--supply-group", sgc,
            "--tariff-index", "01", "--key-revision", "1", "--key-type", "2"]


def test_decoder_key_then_decode_a_published_token() -> None:
    key = sts("decoder-key", "--algorithm", "dkga02",
              *meter_args(v.DKGA02_VENDING_KEY, v.DKGA02_SGC))
    assert key.returncode == 0, key.stderr
    assert key.stdout == "E653341F9D5BF36F\n"
    assert v.DKGA02_VENDING_KEY not in key.stdout + key.stderr
    _, _, when, _, token = v.CREDIT_STA[0]
    out = sts("decode", "-".join(token[i:i + 4] for i in range(0, 20, 4)),
              "--decoder-key", key.stdout.strip(), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert {k: info[k] for k in ("class", "subclass", "tid", "issued_at", "amount", "unit")} == {
        "class": 0, "subclass": 0, "tid": 5871715, "issued_at": when.isoformat(),
        "amount": "0.1", "unit": "kWh"}


def test_dkga04_misty1_key_decodes_its_vector() -> None:
    key = sts("decoder-key", "--algorithm", "dkga04", "--encryption", "misty1",
              *meter_args(v.DKGA04_VENDING_KEY, v.DKGA04_SGC))
    assert key.returncode == 0, key.stderr
    assert len(key.stdout.strip()) == 32
    _case, _, _, _, when, _, token = v.CREDIT_MISTY1[0]
    out = sts("decode", token, "--decoder-key", key.stdout.strip())
    assert out.returncode == 0, out.stderr
    assert "amount 0.1 kWh" in out.stdout and when.isoformat() in out.stdout


def test_encode_prints_the_published_digits() -> None:
    _, _, when, _, token = v.CREDIT_STA[0]
    out = sts("encode", "--decoder-key", "E653341F9D5BF36F", "--class", "0", "--subclass",
              "0", "--amount", "0.1", "--issued-at", when.isoformat(), "--random", "5")
    assert (out.returncode, out.stdout) == (0, token + "\n"), out.stderr


def test_crc_error_is_one_line_exit_2() -> None:
    token = v.CREDIT_STA[0][-1]
    typo = token[:5] + str((int(token[5]) + 1) % 10) + token[6:]
    out = sts("decode", typo, "--decoder-key", "E653341F9D5BF36F")
    assert out.returncode == 2
    assert out.stdout == "" and out.stderr.count("\n") == 1 and "CRC error" in out.stderr


def test_wrong_key_length_is_one_line_exit_2() -> None:
    out = sts("decode", v.CREDIT_STA[0][-1], "--decoder-key", "E653341F9D5BF3")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "--decoder-key" in out.stderr and "64 bits" in out.stderr
    vk = sts("decoder-key", "--algorithm", "dkga02", *meter_args("abab", v.DKGA02_SGC))
    assert vk.returncode == 2 and vk.stderr.count("\n") == 1 and "--vending-key" in vk.stderr
    assert "abab" not in vk.stderr
