"""The vending station's receipt printer: ESC/POS over USB, serial or the network.

settings.py says which printer and its profile, driver.py opens it and asks its real-time
status, escpos_receipt.py lays a receipt out as python-escpos commands, station_printer.py
prints a vend (a sale never depends on it) and print_audit.py puts the outcome in the audit.
Needs rig[printer] (python-escpos).
"""
