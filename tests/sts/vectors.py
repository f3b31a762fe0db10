"""Published STS conformance vectors, with their source.

Source: the STS Association's compliance test specifications for token vending systems,
STS 531-1-0-02 (DKGA02 and DKGA04 with EA07, the STA) and STS 531-1-0-04 (DKGA04 with EA11,
MISTY1), test cases CTSA01-CTSA26, as published in the compliance tests of NectarAPI's
tokens-service (src/test/java/ke/co/nectar/token/domain/token/
STSComplianceTests_STS_531_1_0_0{2,4}_CTSA*.java) and listed again in
github.com/KellyKinyama/nectar_sts_dart, test/sts_compliance_extended_test.dart. Only the
inputs and the expected tokens are taken (facts); rig's codec is its own.

Common set-up of the CTSA cases: random number 5, key type 2, tariff index 01, KRN 1,
base date 1993, MeterPAN 600727000000000009 (or 000001000000000082 where noted).
"""

from __future__ import annotations

from datetime import UTC, datetime

DKGA02_VENDING_KEY = "abababababababab"
DKGA02_SGC = "123456"
DKGA04_VENDING_KEY = "abababababababab949494949494949401234567"
DKGA04_SGC = "123457"
PAN = "600727000000000009"
ALT_PAN = "000001000000000082"
RND = 5


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


# (case, PAN, issued at, amount in 0.1 kWh steps, token) — class 0 subclass 0 under
# DKGA02 + STA. CTSA10 walks the amount field's exponent boundaries, including counts that
# must round up to the next representable value (180 223 -> 180 224, 1 818 623 -> 1 818 624).
CREDIT_STA = [
    ("531-1-0-02 CTSA01 step1", PAN, at(2004, 3, 1, 13, 55), 1, "23716100501183194197"),
    ("531-1-0-02 CTSA01 step2", ALT_PAN, at(2004, 3, 1, 14, 0), 1, "67206107716095682372"),
    ("531-1-0-02 CTSA10 step1", PAN, at(2004, 4, 1, 0, 30), 256, "26456622012185850752"),
    ("531-1-0-02 CTSA10 step2", PAN, at(2004, 4, 1, 0, 35), 16383, "02194538019157867319"),
    ("531-1-0-02 CTSA10 step3", PAN, at(2004, 4, 1, 0, 40), 16384, "49848950875249585071"),
    ("531-1-0-02 CTSA10 step4", PAN, at(2004, 4, 1, 0, 45), 20000, "71997443697501228179"),
    ("531-1-0-02 CTSA10 step5", PAN, at(2004, 4, 1, 0, 50), 180223, "58589277912776864555"),
    ("531-1-0-02 CTSA10 step6", PAN, at(2004, 4, 1, 0, 55), 180224, "16328229234437142451"),
    ("531-1-0-02 CTSA10 step7", PAN, at(2004, 4, 1, 1, 44), 1818623, "45001756646344378677"),
    ("531-1-0-02 CTSA10 step8", PAN, at(2004, 4, 1, 1, 49), 1818624, "15810488151857362998"),
    ("531-1-0-02 CTSA10 step9", PAN, at(2004, 4, 1, 1, 54), 18201624, "42222423067848970276"),
]

# (case, subclass, issued at, value, token) — class 2 under DKGA02 + STA, PAN 600727...
# Values of subclasses 0 and 6 (power limits, W) are counts; the others are the raw field.
MANAGEMENT_STA = [
    ("531-1-0-02 CTSA03 step1", 0, at(2004, 3, 28, 9, 1), 1000, "50901894209860263092"),
    ("531-1-0-02 CTSA04 step1", 1, at(2004, 3, 28, 9, 15), 0xFFFF, "29511990995826640868"),
    ("531-1-0-02 CTSA06 step1", 5, at(2004, 3, 28, 10, 0), 0, "37037300014464855694"),
    ("531-1-0-02 CTSA07 step1", 6, at(2004, 3, 28, 10, 20), 10, "30220533115430798647"),
    ("531-1-0-02 CTSA12 step1", 0, at(2004, 4, 1, 7, 0), 256, "41932934023937597177"),
    ("531-1-0-02 CTSA12 step2", 0, at(2004, 4, 1, 7, 5), 16383, "39962525051716972228"),
    ("531-1-0-02 CTSA12 step3", 0, at(2004, 4, 1, 7, 10), 16384, "49726922948713857933"),
    ("531-1-0-02 CTSA12 step5", 0, at(2004, 4, 1, 7, 20), 180223, "59901462710025767433"),
    ("531-1-0-02 CTSA12 step9", 0, at(2004, 4, 1, 7, 40), 18201624, "64902502692705103624"),
    ("531-1-0-02 CTSA14 step1", 1, at(2004, 4, 1, 9, 0), 0x0000, "24406351748405762287"),
    ("531-1-0-02 CTSA14 step3", 1, at(2004, 4, 1, 9, 10), 0x0004, "17696673116286267663"),
]

# (case, base year, KRN, issued at, token) — class 0 electricity, 0.1 kWh, DKGA04 + STA,
# SGC 123457, PAN 600727...
CREDIT_DKGA04_STA = [
    ("531-1-0-02 CTSA25 step1", 1993, 1, at(2009, 1, 1, 8, 0), "15697331168573253829"),
    ("531-1-0-02 CTSA25 step5", 2014, 4, at(2014, 1, 1, 8, 0), "20324881626382980759"),
    ("531-1-0-02 CTSA25 step9", 2035, 5, at(2035, 1, 1, 8, 0), "09239624803025986815"),
]

# (case, PAN, base year, KRN, issued at, steps, token) — class 0 under DKGA04 + MISTY1.
CREDIT_MISTY1 = [
    ("531-1-0-04 CTSA01 step1", PAN, 1993, 1, at(2004, 3, 1, 13, 0), 1, "59386323472137426967"),
    ("531-1-0-04 CTSA01 step5", ALT_PAN, 1993, 1, at(2004, 3, 1, 13, 20), 1,
     "25453597494250138964"),
    ("531-1-0-04 CTSA01 step9", PAN, 2014, 4, at(2014, 1, 1, 8, 0), 1, "13444522537517076834"),
    ("531-1-0-04 CTSA01 step13", PAN, 2035, 5, at(2035, 1, 1, 8, 0), 1,
     "11907826947753213480"),
    ("531-1-0-04 CTSA10 step5", PAN, 1993, 1, at(2004, 4, 1, 0, 50), 180223,
     "33933484656539803471"),
    ("531-1-0-04 CTSA10 step9", PAN, 1993, 1, at(2004, 4, 1, 1, 54), 18201624,
     "44964671935361377806"),
]

# (case, subclass, issued at, value, token) — class 2 under DKGA04 + MISTY1, KRN 1.
MANAGEMENT_MISTY1 = [
    ("531-1-0-04 CTSA03 step1", 0, at(2004, 3, 28, 9, 1), 1000, "26521936751055502278"),
    ("531-1-0-04 CTSA04 step1", 1, at(2004, 3, 28, 9, 15), 0xFFFF, "59725289138639529749"),
    ("531-1-0-04 CTSA06 step1", 5, at(2004, 3, 28, 10, 0), 0, "02455019196514047304"),
    ("531-1-0-04 CTSA09 step1", 1, at(2004, 3, 29, 0, 0), 0xFFFF, "09791211239166238461"),
    ("531-1-0-04 CTSA12 step9", 0, at(2004, 4, 1, 7, 40), 18201624, "29255956459122361629"),
]

# Key change sets. (case, old TI, old KRN, old base year, new TI, new KRN, new base year,
# rollover, tokens): DKGA02 + STA (CTSA05: TI 01 -> 02), DKGA04 + STA (CTSA26: the roll-over
# to base date 2035) and DKGA04 + MISTY1 (531-1-0-04 CTSA05: four sections, SGC 123457).
KEY_CHANGE_DKGA02_STA = [
    ("531-1-0-02 CTSA05 step1", "01", "02", ["51638423060042734509", "15361891762113502242"]),
    ("531-1-0-02 CTSA05 step2", "02", "01", ["26553210520543055412", "00943705441908264439"]),
]
KEY_CHANGE_ROLLOVER_STA = ("531-1-0-02 CTSA26 step1", ["44163577485799480640",
                                                       "26556810679164981397"])
KEY_CHANGE_MISTY1 = ("531-1-0-04 CTSA05 step1", ["34812744915211133004", "46903925208523674737",
                                                 "71464563847088610152", "67904239402617643990"])

# Class 1 test tokens are not encrypted (531-1-0-02 CTSA02 and CTSA11):
# (case, subclass, control, token).
TEST_TOKENS = [
    ("531-1-0-02 CTSA02 step1", 0, (1 << 36) - 1, "56493153725450313471"),
    ("531-1-0-02 CTSA02 step2", 1, (1 << 28) - 1, "02305843005052951967"),
    ("531-1-0-02 CTSA11 control 0x1", 0, 0x1, "00000000000150997584"),
    ("531-1-0-02 CTSA11 control 0x400, 4-digit code", 1, 0x400, "01152925902787577952"),
]

# RFC 2994, Appendix A ("Example Data of MISTY1"): key, plaintext, ciphertext.
MISTY1_RFC2994 = [
    ("00112233445566778899aabbccddeeff", "0123456789abcdef", "8b1da5f56ab3d07c"),
    ("00112233445566778899aabbccddeeff", "fedcba9876543210", "04b68240b13be95d"),
]
