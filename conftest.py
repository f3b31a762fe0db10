"""Repository-wide pytest configuration.

rig's own pytest plugin (rig.pytest_plugin, registered as a pytest11 entry point) provides the
bench fixtures and options; this file only keeps test runs hermetic.
"""

import os

os.environ.setdefault("RIG_PROFILES_DIR", os.path.join(os.path.dirname(__file__), "meter_profiles"))
