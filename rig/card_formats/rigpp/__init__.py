"""RIGPP, rig's reference card format (docs/card-spec.md): an ISO 7816-4 CPU card with MAC'd
records, registered as the ``rigpp`` entry of the ``rig.card_formats`` group."""
