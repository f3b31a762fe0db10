"""The esam-cpu card format: an ISO 7816 CPU card read by a meter with an ESAM, as State
Grid–style prepaid meters do (docs/card-formats/esam-cpu.md). SM4 stands in for SM1."""
