"""Text for SEPA files in the EPC basic Latin character set, transliterated the EPC's way.

The EPC implementation guidelines for SEPA direct debits (EPC130-08, section 1.4 "Character
set") let only these characters through unless banks agree otherwise:

    a-z  A-Z  0-9  / - ? : ( ) . , ' +  and space

Anything else is converted as the EPC's best practice for the extended character set
(EPC217-08, "SEPA Requirements for an Extended Character Set (UNICODE Subset) – Best
Practices" and its SEPA conversion table) recommends:

* a letter with a diacritic becomes its base letter (``ä`` → ``a``, ``É`` → ``E``, ``ç`` → ``c``:
  the Unicode canonical decomposition minus the combining marks);
* letters that do not decompose are spelt with basic letters: ``ß`` → ``s`` (EPC; the German
  banks' ``ss`` is their alternative), ``æ`` → ``ae``, ``ø`` → ``o``, ``œ`` → ``oe``,
  ``ł`` → ``l``, ``đ``/``ð`` → ``d``, ``þ`` → ``th``, ``ı`` → ``i`` (and their capitals);
* ``&`` becomes ``+`` (the set's own "and");
* every other character — ``<``, ``>``, ``"``, ``*``, ``@``, ``_``, CJK text … — becomes ``.``,
  the table's replacement for a character without a meaningful equivalent;
* white space runs become one space.

Identifiers (``EndToEndId``, ``MndtId`` …) must in addition neither start nor end with ``/``
nor contain ``//`` (same section of EPC130-08); :func:`sepa_id` checks that.
"""

from __future__ import annotations

import re
import unicodedata

BASIC = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
SPELLED = {
    "ß": "s", "ẞ": "S", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
    "ı": "i", "&": "+",
}


def is_sepa_basic(text: str) -> bool:
    """True if every character of ``text`` is in the EPC basic Latin set."""
    return BASIC.fullmatch(text) is not None


def to_sepa(text: str, max_len: int) -> str:
    """``text`` in the EPC basic Latin set, at most ``max_len`` characters."""
    out: list[str] = []
    for ch in re.sub(r"\s+", " ", text).strip():
        if BASIC.fullmatch(ch):
            out.append(ch)
        elif ch in SPELLED:
            out.append(SPELLED[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", ch)
                           if not unicodedata.combining(c))
            out.append(base if base and BASIC.fullmatch(base) else ".")
    return "".join(out)[:max_len].rstrip()


def sepa_id(text: str) -> bool:
    """True if ``text`` may be a SEPA identifier: basic set, no leading, trailing or double
    slash."""
    return (is_sepa_basic(text) and not text.startswith("/") and not text.endswith("/")
            and "//" not in text)
