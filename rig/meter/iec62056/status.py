"""The status word of rig's IEC 62056-21 reference meter (register C.5.0 by default).

IEC 62056-21 leaves the status word to each maker; this is the bit layout the emulated
meter prints (4 hex digits) and the rig's client decodes. Defined here once for both.
"""

ST_RELAY_OPEN = 1 << 0
ST_ALARM1 = 1 << 1
ST_ALARM2 = 1 << 2  # pre-trip alarm
ST_EMERGENCY = 1 << 3
ST_FRIENDLY = 1 << 4
ST_POWER_TRIP = 1 << 5
ST_ALARM2_TRIP = 1 << 6
ST_REMOTE_TRIP = 1 << 7
ST_COVER_OPEN = 1 << 8
