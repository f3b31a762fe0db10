"""The toy card: a plain-file prepaid card (no card-side security at all) whose purchase is
MAC'd under a meter key of its own derivation. It exists to prove rig's card-format boundary:
nothing in rig names it."""
