"""Fault injection for reliability testing: serial line faults between rig and meter."""
