"""Names every part of rig shares about meter profiles, without the profile schema.

`rig --help` shows them; importing `rig.profile` for two strings would build every pydantic
model of the profile schema first.
"""

DEFAULT_PROFILE = "dlt645-1p-money"
PROFILES_ENV = "RIG_PROFILES_DIR"
