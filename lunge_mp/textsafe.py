"""Characters that must never reach a terminal raw, and how they are shown instead.

A terminal acts on control characters: ESC starts sequences that recolour, move the cursor,
retitle the window or (on some terminals) write files; BEL rings; CR and backspace overwrite
what was printed; and the Unicode bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and
kin) reorder text so `txt.exe` reads as `exe.txt` ("Trojan Source"). A name in a config may not
hold any of them (config/names.py refuses it at load); text from a response or a results file
is shown with each of them escaped, as `\\x1b` or `\\u202e`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TextIO

#: C0 and C1 controls, DEL, and the bidirectional formatting characters (Unicode TR9) and the
#: line and paragraph separators, which break a line where no one expects it
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str, keep: str = "") -> str:
    """`text` with every unsafe character written as an escape; characters in `keep` (such as
    a newline in a multi-line block we print ourselves) stay."""
    if keep:
        return "".join(part if part in keep else UNSAFE.sub(_escaped, part)
                       for part in re.split(f"([{re.escape(keep)}])", text))
    return UNSAFE.sub(_escaped, text)


def unsafe_problem(text: str) -> str | None:
    """Why `text` cannot be a name (its first unsafe character, named), or None."""
    m = UNSAFE.search(text)
    if m is None:
        return None
    char = m.group()
    name = unicodedata.name(char, "") or _C0_NAMES.get(ord(char), "a control character")
    return (f"contains U+{ord(char):04X} ({name}) at position {m.start() + 1}; names may not hold "
            f"control or bidirectional-override characters, which garble a terminal")


_C0_NAMES = {0: "NUL", 7: "BEL", 8: "BACKSPACE", 9: "TAB", 10: "LINE FEED", 13: "CARRIAGE RETURN",
             27: "ESC", 127: "DEL"}


class SafeWriter:
    """A text stream that escapes unsafe characters (newlines stay) on their way to `out`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(escape(text, keep="\n"))

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()
