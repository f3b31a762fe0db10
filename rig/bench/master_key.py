"""Which issuer master key a bench uses, and the rule that keeps the public one off real meters.

rig ships a public lab test key so that emulated benches and tests work out of the box. A real
bench must name its own key (`billing.master_key_file` or $RIG_MASTER_KEY); it may use the lab
test key only when its config says `lab_test_key = true` (a lab whose meters were made with
it). A key that is configured but cannot be read is an error naming the setting, never a
silent fall back to the lab key.
"""

from __future__ import annotations

import logging
import os

from rig.bench.config import BenchConfig
from rig.card.keys import DEFAULT_KEY_ENV, PUBLIC_TEST_KEY, KeyLoadError, MasterKey, lab_test_key
from rig.errors import ConfigError

log = logging.getLogger(__name__)


def bench_master_key(config: BenchConfig) -> MasterKey:
    """The master key `config` says to use; ConfigError (one line naming the setting) if a
    real bench names none, names an unreadable one, or would use the public test key."""
    where = f"{config.source}: " if config.source else ""
    if config.billing.master_key_file:
        try:
            key = MasterKey.from_file(config.billing.master_key_file)
        except KeyLoadError as e:
            raise ConfigError(f"{where}billing.master_key_file: {e}") from None
        setting = "billing.master_key_file"
    elif os.environ.get(DEFAULT_KEY_ENV, "").strip():
        key = MasterKey.from_env()  # a malformed value: KeyLoadError naming the variable
        setting = DEFAULT_KEY_ENV
    elif config.kind == "emulated" or config.lab_test_key:
        if config.kind == "real":
            log.warning("bench %s uses rig's %s (lab_test_key = true): never for a "
                        "production card or meter", config.station_id, PUBLIC_TEST_KEY)
        return lab_test_key()
    else:
        raise ConfigError(f"{where}a real bench needs its issuer master key: set "
                          f"billing.master_key_file or {DEFAULT_KEY_ENV} (rig's {PUBLIC_TEST_KEY} "
                          "is used on a real bench only with lab_test_key = true)")
    if key.is_public_test_key and config.kind == "real" and not config.lab_test_key:
        raise ConfigError(f"{where}{setting} holds rig's {PUBLIC_TEST_KEY} (id {key.key_id}): a "
                          "real bench uses it only with lab_test_key = true")
    return key
