"""The vending station: a person (or a program) at a counter with a card writer.

It sits above both the billing centre (the ledger, which knows no hardware) and the bench
(cards, meters, loads): :mod:`rig.station.vending_station` turns the centre's vends into MAC'd
card records and brings readbacks home, :mod:`rig.station.console` is the cashiers' web
console, and :mod:`rig.station.loadgen` is a station driven by a program.
"""
