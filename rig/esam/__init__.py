"""The meter's secure access module (ESAM) and the vending office's key service.

State Grid–style prepaid meters keep their keys and their purchase wallet in an ESAM; the
user's CPU card and the remote prepayment commands over DL/T 645 both talk to it. The real
modules use SM1, which is not published: rig uses SM4 (GB/T 32907, in ``cryptography``) in
its place, and every record of a run on such a meter says so (docs/esam.md).
"""
