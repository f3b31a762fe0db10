"""Card formats: the plugin boundary between rig and the cards real meters read.

A card format (docs/card-formats.md) is everything format-specific about a prepaid card: how
the vending station writes it, how a meter reads and applies it, the virtual card that answers
its commands on the emulated bench, and its key service. Formats are found through the
``rig.card_formats`` entry point group (``rig.card_formats.registry``); the interface they
implement is ``rig.card_formats.interface``. rig's own formats live in sub-packages here
(``rigpp``: the reference format, docs/card-spec.md); a manufacturer ships theirs as its own
distribution.
"""
