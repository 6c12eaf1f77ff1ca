"""GSM-7 / ISO-8859-1 / UCS-2 detection, part counting and splitting (GSM 03.38, 03.40).

The operator pays per part, and one stray typographic character turns a 160-character GSM-7
message into a 70-unit UCS-2 one. This module decides the encoding exactly as a handset or SMSC
does, splits the text into the parts that will really be sent, and says in plain words which
character forced Unicode so an agent can fix it (``smart_replace`` does the usual fixes).

Rules (see the gateway docs, "Text encoding facts"):

* GSM-7: the basic set costs one septet a character, the extension set (form feed ``^ { } \\ [
  ~ ] | €``) two (escape + character). One part holds 160 septets; a concatenated message 153
  per part, and an escape pair is never split, so a part may end at 152.
* UCS-2: UTF-16 code units, 70 in one part, 67 per part when concatenated. A character outside
  the BMP is a surrogate pair (two units) and is never split, so a part may end at 66.
* ISO-8859-1 (8-bit), only where the provider's gateway can carry it (Unified's types 5/7,
  :meth:`~helpdesk_sms.gateways.base.Gateway.text_encodings`): one octet a character, 140 in
  one part, 134 per part when concatenated (GSM 03.40: 140 octets of user data, 6 of them the
  concatenation header). Chosen only for a text that is not GSM-7 but fits ISO-8859-1 (Dutch
  or French text with ``ë``): GSM-7 holds more (160/153), UCS-2 far less (70/67).
* Empty text has 0 parts and no segments: there is nothing to send (it is rejected elsewhere).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "gsm7"
UCS2 = "ucs2"
LATIN1 = "latin1"

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67
#: 8-bit data (ISO-8859-1): 140 octets in one part, 134 when a 6-octet concatenation header
#: (UDH) takes its share of every part.
LATIN1_SINGLE = 140
LATIN1_MULTI = 134

#: Per encoding: (one part holds, each part of a longer message holds) and the unit's name.
SIZES: dict[str, tuple[int, int]] = {
    GSM7: (GSM7_SINGLE, GSM7_MULTI),
    UCS2: (UCS2_SINGLE, UCS2_MULTI),
    LATIN1: (LATIN1_SINGLE, LATIN1_MULTI),
}
UNITS: dict[str, str] = {GSM7: "septets", UCS2: "UCS-2 units", LATIN1: "octets"}

#: The GSM 03.38 default alphabet, one septet each. 0x09 is ``Ç`` in the standard but many
#: implementations map it to ``ç``; both are accepted. The Greek capitals are U+0393..U+03A9.
GSM_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "ç"
)
#: The extension table reached through the escape septet: two septets each.
GSM_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_GSM_COST: dict[str, int] = {c: 1 for c in GSM_BASIC} | {c: 2 for c in GSM_EXTENSION}

#: Typographic characters (common in text pasted from word processors and phones) and the GSM
#: characters that read the same. Only look-alikes: nothing that changes the meaning.
SMART_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark / apostrophe
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u2026": "...",  # … horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def describe(char: str) -> str:
    """A character as a human can see it: invisible ones by code point and name."""
    if unicodedata.category(char)[0] in "CZ":
        name = unicodedata.name(char, "")
        return f"U+{ord(char):04X} {name}".rstrip()
    return char


@dataclass(frozen=True)
class TextInfo:
    """How a text will travel: encoding, size, and the exact parts it is split into."""

    encoding: str  # "gsm7", "ucs2" or "latin1"
    units: int  # septets (extension characters count 2), UTF-16 code units, or octets
    parts: int  # 0 for empty text, else len(segments)
    segments: tuple[str, ...]  # the real parts; "".join(segments) == text
    #: (0-based index, char) that are not GSM-7: they forced UCS-2 (or ISO-8859-1).
    unicode_chars: tuple[tuple[int, str], ...]

    @property
    def is_unicode(self) -> bool:
        return self.encoding == UCS2

    @property
    def per_part_limit(self) -> int:
        """Units one part holds here: 160/153 septets, 70/67 UCS-2 units or 140/134 octets."""
        single, multi = SIZES[self.encoding]
        return multi if self.parts > 1 else single

    @property
    def unit_name(self) -> str:
        """What :attr:`units` counts: "septets", "UCS-2 units" or "octets"."""
        return UNITS[self.encoding]

    @property
    def text(self) -> str:
        return "".join(self.segments)

    def explain(self) -> str:
        """One sentence naming what made the text Unicode and what it costs; "" for GSM-7.

        Positions are 1-based characters. "instead of N" is the part count the text would
        have in GSM-7 with those characters replaced (``smart_replace`` look-alikes, anything
        else by one placeholder character).
        """
        if self.encoding == GSM7 or not self.unicode_chars:
            return ""
        index, char = self.unicode_chars[0]
        others = len(self.unicode_chars) - 1
        if others:
            subject = (
                f"The {describe(char)} at position {index + 1} and "
                f"{_plural(others, 'other character')} make"
            )
        else:
            subject = f"The {describe(char)} at position {index + 1} makes"
        kind = "ISO-8859-1 (8-bit)" if self.encoding == LATIN1 else "Unicode"
        gsm_parts = _gsm_equivalent_parts(self.text)
        if gsm_parts == self.parts:
            return (
                f"{subject} this message {kind}: it still fits in {_plural(self.parts, 'part')}, "
                f"but each part holds {self.per_part_limit} characters instead of "
                f"{GSM7_MULTI if self.parts > 1 else GSM7_SINGLE}."
            )
        parts = _plural(self.parts, "part")
        return f"{subject} this message {kind}: {parts} instead of {gsm_parts}."


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM 03.38 basic or extension set."""
    return all(c in _GSM_COST for c in text)


def _split(text: str, costs: list[int], single: int, multi: int) -> tuple[str, ...]:
    """Pack characters greedily into parts; a character never straddles a boundary."""
    if not text:
        return ()
    if sum(costs) <= single:
        return (text,)
    segments: list[str] = []
    start = used = 0
    for i, cost in enumerate(costs):
        if used + cost > multi:
            segments.append(text[start:i])
            start, used = i, 0
        used += cost
    segments.append(text[start:])
    return tuple(segments)


def fits_latin1(text: str) -> bool:
    """True if every character is in ISO-8859-1 (one octet each)."""
    return all(ord(c) <= 0xFF for c in text)


def analyze(text: str, *, latin1: bool = False) -> TextInfo:
    """Encoding, size and the real split of ``text`` into SMS parts.

    ``latin1``: the gateway can carry ISO-8859-1, so a text that is not GSM-7 but fits it
    goes as 8-bit rather than UCS-2 (the provider decides, see ``Gateway.text_encodings``).
    """
    unicode_chars = tuple((i, c) for i, c in enumerate(text) if c not in _GSM_COST)
    if unicode_chars and latin1 and fits_latin1(text):
        segments = _split(text, [1] * len(text), LATIN1_SINGLE, LATIN1_MULTI)
        return TextInfo(LATIN1, len(text), len(segments), segments, unicode_chars)
    if unicode_chars:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        segments = _split(text, costs, UCS2_SINGLE, UCS2_MULTI)
        return TextInfo(UCS2, sum(costs), len(segments), segments, unicode_chars)
    costs = [_GSM_COST[c] for c in text]
    segments = _split(text, costs, GSM7_SINGLE, GSM7_MULTI)
    return TextInfo(GSM7, sum(costs), len(segments), segments, ())


def _gsm_equivalent_parts(text: str) -> int:
    """Parts ``text`` would take in GSM-7 once its non-GSM characters were replaced."""
    replaced, _ = smart_replace(text)
    gsm_text = "".join(c if c in _GSM_COST else "?" for c in replaced)
    return analyze(gsm_text).parts


def smart_replace(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Swap typographic quotes, dashes, ellipsis and odd spaces for their GSM look-alikes.

    Returns the new text and the distinct ``(original, replacement)`` pairs applied, in order
    of first appearance (empty when nothing changed), so the caller can tell the agent.
    Other non-GSM characters are left alone: removing them would change the message.
    """
    out: list[str] = []
    changes: dict[tuple[str, str], None] = {}
    for char in text:
        replacement = SMART_REPLACEMENTS.get(char)
        if replacement is None:
            out.append(char)
        else:
            out.append(replacement)
            changes[(char, replacement)] = None
    return "".join(out), list(changes)
