"""Test helpers for the load driver.

The scripted ("recorded protocol") SCPI instrument is public as `rig.testing.ScriptedInstrument`
(a real TCP server that expects an exact sequence of command lines); it is re-exported here for
this folder's tests.
"""

from rig.testing import Exchange, ScriptedInstrument

__all__ = ["Exchange", "ScriptedInstrument"]
