"""rig — hardware-in-the-loop test rig for IC-card prepaid energy meters."""

__version__ = "0.1.0"
