"""Repository-wide pytest configuration.

rig's own pytest plugin (rig.pytest_plugin, registered as a pytest11 entry point) provides the
bench fixtures and options; this file only keeps test runs hermetic: the shell's own profile
directory and master key must not change what rig's tests see (profiles, the lab test key and
the certification suite come from the installed package, as for any user).
"""

import os

for _variable in ("RIG_PROFILES_DIR", "RIG_MASTER_KEY"):
    os.environ.pop(_variable, None)
