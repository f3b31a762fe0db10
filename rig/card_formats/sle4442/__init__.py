"""SLE 4442 memory cards, as cheap single-phase prepaid meters read them
(docs/card-formats/sle4442.md): the chip model, the PC/SC reader dialects a vending office's
card writer speaks, the prepaid user-card layout, and the card format plugin
(``rig.card_formats.sle4442.format:SLE4442``)."""
