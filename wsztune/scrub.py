"""Scrubbing a corpus: content out, compressibility kept, so that a sample can be committed.

Two modes, both keyed (HMAC-SHA256 of a secret key) and consistent (the same input always gives
the same output under one key), both keeping every message's length, direction, time and
connection (under a keyed pseudonym: its name may be an address or a user), and the JSON structure
(nesting, separators, whitespace, escapes, literals) byte for byte.

``tokens`` (the default) replaces every object key, string value and number, token by token. A
token is a run of letters or a run of digits; what separates tokens (``/ . _ - :``, spaces,
punctuation, emoji) stays. Each character moves to another of its class (lowercase, uppercase,
nonzero digit, or a non-ASCII letter of the same 64-code-point block, which keeps its UTF-8 length
and lead bytes) by a rotation keyed by HMAC(key, context), the context being what precedes the
character in its token: all of it for digits, the two letters before it (case folded) for letters.
So the same token always gets the same replacement, different tokens never get one, shared prefixes
(URLs, ids, timestamps, prices) stay shared, and so do the pieces words share ("ation", "ing"), but
for their first two letters. Rotations stay within bands of characters of about the same frequency
in the corpus, and letters a-f of a hex-looking run stay within a-f, so the character distribution
that deflate's Huffman codes pay for barely moves. ``0`` stays (the magnitude and roundness of
numbers). A key and a value made of the same token get the same replacement, so the repeats small
messages make between keys and values survive; no text is exempt for being a key (a map keyed by
card number or e-mail would keep them verbatim). No input string value of 4 or more characters
comes out as a value, and no token is replaced by another input token of 4 or more characters.

``permute`` applies one keyed rotation of the lowercase letters, of the uppercase letters and of
the digits 1-9 to everything, keys included. Every repetition survives exactly, and rotations
(rather than random permutations) keep neighbouring characters neighbours, which deflate's Huffman
headers care about. The key gives :data:`PERMUTE_CANDIDATES` sets of rotations; the one whose
compressed sizes move least at memLevel 1-3 (measured on the corpus) is kept. It only obscures: a
frequency analysis undoes it.

Binary frames keep their length: every run of ASCII letters and digits, however short (embedded
text, ``Bob``, ``192.168.17.42``), is mapped like a token, and every other byte goes through one
keyed rotation of the byte values, which keeps repetition and the byte distribution, and only
obscures.

:func:`write_records` is the only function that writes a file; :func:`grid_sizes` and
:func:`compare_sizes` compress (sizes only) to show how much compressibility moved.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import secrets
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from wsztune.corpus import RECORDS_HEADER_KEY, RECORDS_HEADER_VALUE, Corpus, Message
from wsztune.errors import WsztuneError

MODES = ("tokens", "permute")
DEFAULT_MODE = "tokens"
# What each mode aims at, in the worst of the 63 cells: tokens moves savings by at most 2
# percentage points, permute compressed sizes by at most 0.5%. bench/scrub.py measures them;
# `corpus scrub --check` holds a capture to them.
GOALS = {"tokens": 2.0, "permute": 0.5}

# Characters of about the same frequency form a band; a character only moves within its band.
# Bands of 6 keep the corpus's character distribution (within a few percent) while leaving each
# character 5 possible originals; smaller bands keep it better and hide less.
BAND_SIZE = 6

_ASCII_CLASSES = (
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "123456789",  # "0" is kept: see the module docstring
)

# JSON tokens worth rewriting: strings (keys or values) and numbers. Everything else (structure,
# whitespace, true/false/null) is copied.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')
_WHITESPACE = " \t\r\n"
_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|[^\\]", re.DOTALL)
# Every run of ASCII letters and digits in a binary frame, however short: ``Bob``, ``pin:123``
# and each number of ``192.168.17.42`` are text too.
_BINARY_RUN = re.compile(rb"[A-Za-z0-9]+")


class ScrubError(WsztuneError):
    """A scrub that cannot be done as asked (a bad key, an unwritable output)."""


# Character classes --------------------------------------------------------------------------------


def char_class(char: str) -> str | None:
    """The class a character is replaced within, or ``None`` for a character that is kept.

    ASCII letters by case, nonzero digits; a non-ASCII letter or digit within its 64-code-point
    block (the same UTF-8 length and lead bytes), its general category and case.
    """
    if char < "\x80":
        if "a" <= char <= "z":
            return "a"
        if "A" <= char <= "Z":
            return "A"
        if "1" <= char <= "9":
            return "1"
        return None
    if not char.isalnum():
        return None
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF or code > 0xFFFF:
        return None  # lone surrogates and astral characters: kept rather than risk an encoding
    return f"{code >> 6}:{unicodedata.category(char)}"


_BLOCKS: dict[str, str] = {}


def _class_alphabet(cls: str) -> str:
    """Every character of class ``cls``, in code-point order."""
    for alphabet in _ASCII_CLASSES:
        if alphabet[0] == cls:
            return alphabet
    if cls not in _BLOCKS:
        start = int(cls.split(":")[0]) << 6
        _BLOCKS[cls] = "".join(
            chr(code) for code in range(start, start + 64) if char_class(chr(code)) == cls
        )
    return _BLOCKS[cls]


# The keyed maps -----------------------------------------------------------------------------------


def _bands(counts: Counter[str]) -> dict[str, tuple[str, int]]:
    """Group each class's characters into bands of about the same frequency.

    Returns, for every character, its band (as a string) and its index in it. Characters of a
    class that never occur are banded too (after the ones that do), so that any input maps.
    """
    by_class: dict[str, list[str]] = {}
    for char in counts:
        cls = char_class(char)
        if cls is not None:
            by_class.setdefault(cls, [])
    for cls in by_class:
        alphabet = _class_alphabet(cls)
        # Most frequent first; ties (and unseen characters) in code-point order, deterministic.
        by_class[cls] = sorted(alphabet, key=lambda c: (-counts.get(c, 0), c))
    result: dict[str, tuple[str, int]] = {}
    for ranked in by_class.values():
        bands = [ranked[i : i + BAND_SIZE] for i in range(0, len(ranked), BAND_SIZE)]
        if len(bands) > 1 and len(bands[-1]) < 2:
            # A band of one could not move its character: it joins the band before. Popped
            # first: `bands[-2] += bands.pop()` stored into the shortened list's [-2], which
            # raised IndexError with two bands and, with more, put one band in two places.
            last = bands.pop()
            bands[-1] += last
        for band in bands:
            text = "".join(band)
            for index, char in enumerate(band):
                result[char] = (text, index)
    return result


@dataclass
class TokenMap:
    """The keyed token map of ``tokens`` mode, with its caches.

    ``avoid`` holds the input's own tokens of 4 characters or more: a replacement never equals one
    of them (nor another token's replacement), so no input word reappears by chance elsewhere.
    """

    key: bytes
    bands: dict[str, tuple[str, int]]
    avoid: frozenset[str] = frozenset()
    _tokens: dict[str, str] = field(default_factory=dict)
    _outputs: set[str] = field(default_factory=set)
    _seeds: dict[str, int] = field(default_factory=dict)

    def _seed(self, context: str) -> int:
        seed = self._seeds.get(context)
        if seed is None:
            message = b"token\0" + context.encode("utf-8", "surrogatepass")
            seed = int.from_bytes(hmac.digest(self.key, message, "sha256")[:8], "big")
            self._seeds[context] = seed
        return seed

    def _map(self, token: str, salt: str) -> str:
        # Letters that could be hexadecimal (hashes, ids, colours) stay within a-f, else a
        # hash's first occurrence would cost a 26-letter alphabet's bits.
        bands = _HEX_BANDS if _HEX.fullmatch(token) else self.bands
        out = []
        for index, char in enumerate(token):
            entry = bands.get(char) or self.bands.get(char)
            if entry is None or len(entry[0]) < 2:
                out.append(char)  # not a letter or digit, or alone in its class (a rare block)
                continue
            band, position = entry
            # Never a rotation of 0: every character changes, so no token maps to itself.
            step = 1 + self._seed(salt + _context(token, index)) % (len(band) - 1)
            out.append(band[(position + step) % len(band)])
        return "".join(out)

    def token(self, token: str) -> str:
        """The replacement of one token (a run of letters or digits): same length and classes."""
        mapped = self._tokens.get(token)
        if mapped is None:
            mapped = self._map(token, "")
            attempt = 0
            while len(token) >= 4 and (mapped in self.avoid or mapped in self._outputs):
                attempt += 1  # rare: a whole-token remap, which gives up its shared prefix
                mapped = self._map(token, f"{attempt}\0")
                if attempt > 64:
                    break  # a class too small to avoid everything (a 4-digit run of 1s and 2s)
            self._tokens[token] = mapped
            self._outputs.add(mapped)
        return mapped

    def text(self, text: str) -> str:
        """Map every token of ``text``; everything between tokens stays."""
        return _TOKEN.sub(lambda match: self.token(match.group()), text)


def _context(token: str, index: int) -> str:
    """What the rotation of ``token[index]`` depends on.

    In a run of digits, everything that precedes it: numbers share prefixes (timestamps, sequence
    numbers, prices of one instrument), and an id's digits depend on all of the id. In a run of
    letters, the ``CONTEXT_LETTERS`` letters that precede it, case folded (the start of the token
    counting as a letter): English repeats pieces of words ("ation", "ing", "the" in "other") as
    much as whole words, and any piece with the same two letters before it maps to the same
    replacement, so deflate still finds it, shortened by two letters; case folding keeps "The" and
    "the" alike after their first letter. Either way two different tokens of one length never map
    to one: at their first difference, the same rotation moves different characters to different
    ones.
    """
    if token[0].isdigit():
        return token[:index]
    if index < CONTEXT_LETTERS:
        return "^" + token[:index].lower()
    return token[index - CONTEXT_LETTERS : index].lower()


# How many preceding letters a letter's rotation depends on. One keeps more of natural language's
# repeats (1.4 points of savings lost at worst in bench/scrub.py, against 1.9 with two) but makes
# the map a digraph substitution, which known words undo more easily; three lose 2.8 points.
CONTEXT_LETTERS = 2


# A token is a run of letters or a run of digits: "kwDO181eac1a" is kwDO 181 eac 1 a, so that a
# hash repeated inside an id (GitHub's node ids hold the commit's sha) maps the same in both.
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_HEX = re.compile(r"[a-f]+|[A-F]+")
_HEX_BANDS = {c: (band, i) for band in ("abcdef", "ABCDEF") for i, c in enumerate(band)}


def _rotation_amount(key: bytes, label: str, size: int) -> int:
    """A keyed rotation amount in 1..size-1 (never 0: every character moves)."""
    digest = hmac.digest(key, label.encode("utf-8"), "sha256")
    return 1 + int.from_bytes(digest[:8], "big") % (size - 1)


def _rotation(key: bytes, label: str, alphabet: Sequence[str]) -> dict[str, str]:
    """A keyed rotation of ``alphabet`` (a Caesar shift: with 3, a->d, b->e, ..., z->c).

    A rotation keeps neighbouring characters neighbours: deflate's dynamic Huffman headers list
    code lengths in alphabet order, run-length coded, and its hash mixes the low bits of three
    bytes. Measured on the bundled corpora, a random permutation of each class moved compressed
    sizes by up to 1.2% (api.jsonl at 15:1), rotations by up to 0.3%.
    """
    if len(alphabet) < 2:
        return {char: char for char in alphabet}
    step = _rotation_amount(key, label, len(alphabet))
    return {char: alphabet[(index + step) % len(alphabet)] for index, char in enumerate(alphabet)}


@dataclass
class CharMap:
    """The keyed character permutation of ``permute`` mode (and of binary bytes in both modes)."""

    key: bytes
    variant: int = 0
    _chars: dict[str, str] = field(default_factory=dict)

    def _label(self, cls: str) -> str:
        # Variant 0 is the map of the first versions: the same key still gives the same output.
        return f"permute\0{cls}" if self.variant == 0 else f"permute\0{self.variant}\0{cls}"

    def char(self, char: str) -> str:
        """The permuted character (itself when it is of no class)."""
        mapped = self._chars.get(char)
        if mapped is None:
            cls = char_class(char)
            if cls is None:
                mapped = char
            else:
                self._chars.update(_rotation(self.key, self._label(cls), _class_alphabet(cls)))
                mapped = self._chars[char]
            self._chars[char] = mapped
        return mapped

    def text(self, text: str) -> str:
        """Permute every character of ``text``."""
        return "".join(map(self.char, text))

    def token(self, token: str) -> str:
        """Same as :meth:`text`: permute mode knows no tokens."""
        return self.text(token)


# JSON, text and binary payloads -------------------------------------------------------------------


def _rewrite_string(literal: str, mapper: TokenMap | CharMap, guard: Guard | None = None) -> str:
    """Map a JSON string literal's decoded text, and write it back with the same escapes."""
    units = _ESCAPE.findall(literal[1:-1])
    decoded = []
    for unit in units:
        if unit.startswith("\\u"):
            decoded.append(chr(int(unit[2:], 16)))
        elif unit.startswith("\\"):
            decoded.append("\0")  # \n, \", \\ ...: never part of a token, never changed
        else:
            decoded.append(unit)
    original = "".join(decoded)
    mapped = mapper.text(original)
    if guard is not None:
        mapped = guard(original, mapped)
    out = ['"']
    for unit, before, after in zip(units, decoded, mapped, strict=True):
        if before == after:
            out.append(unit)
        elif unit.startswith("\\u"):
            digits = f"{ord(after):04x}"
            out.append("\\u" + (digits.upper() if unit[2:] != unit[2:].lower() else digits))
        else:
            out.append(after)
    out.append('"')
    return "".join(out)


def _is_key(text: str, end: int) -> bool:
    """Whether the JSON string ending at ``end`` is an object key (a ``:`` follows)."""
    while end < len(text) and text[end] in _WHITESPACE:
        end += 1
    return end < len(text) and text[end] == ":"


Guard = Callable[[str, str], str]


def scrub_json(
    text: str, mapper: TokenMap | CharMap, *, keys: bool, guard: Guard | None = None
) -> str:
    """Rewrite the strings and numbers of one JSON document; keys too when ``keys`` is true.

    Structure, whitespace, escapes and the literals true/false/null are copied byte for byte.
    """

    def rewrite(match: re.Match[str]) -> str:
        token = match.group()
        if token[0] == '"':
            if _is_key(text, match.end()):
                return _rewrite_string(token, mapper) if keys else token
            return _rewrite_string(token, mapper, guard)
        # A number: map its digit runs (the exponent's too); sign, point, "e" stay. Nonzero digits
        # only move among nonzero digits, so a number stays a valid JSON number.
        return _DIGITS.sub(lambda digits: mapper.token(digits.group()), token)

    return _JSON_TOKEN.sub(rewrite, text)


_DIGITS = re.compile(r"[0-9]+")


def scrub_binary(payload: bytes, mapper: TokenMap | CharMap, substitution: bytes) -> bytes:
    """Map every run of ASCII letters and digits as a token (one letter or digit is a run too);
    substitute every other byte (keyed, one to one): no byte keeps its value by being short."""
    out = bytearray(payload.translate(substitution))
    for match in _BINARY_RUN.finditer(payload):
        out[match.start() : match.end()] = mapper.token(match.group().decode("ascii")).encode(
            "ascii"
        )
    return bytes(out)


def _byte_substitution(key: bytes, variant: int = 0) -> bytes:
    """A keyed rotation of the byte values that are not ASCII letters or digits (a table)."""
    others = [b for b in range(256) if not (b < 0x80 and chr(b).isalnum())]
    mapping = _rotation(key, "binary" if variant == 0 else f"binary\0{variant}", others)
    return bytes(mapping.get(b, b) for b in range(256))


_NOT_JSON = object()


def _parse_json(text: str) -> object:
    """The parsed document, or ``_NOT_JSON`` for text that is not JSON (scrubbed as plain text)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


# A corpus -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScrubReport:
    """What a scrub did, in numbers (for the command's summary)."""

    mode: str
    messages: int
    json_messages: int
    text_messages: int
    binary_messages: int
    raw_bytes: int
    distinct_tokens: int
    remapped_values: int
    permutation: int = 0  # permute mode: which of the key's candidates was kept (measured)


def parse_key(text: str | None, what: str = "--key") -> bytes:
    """The HMAC key from ``--key`` (any text, at least 8 characters), or 32 random bytes."""
    if text is None:
        return secrets.token_bytes(32)
    if len(text) < 8:
        raise ScrubError(f"{what} must be at least 8 characters, not {len(text)}")
    return text.encode("utf-8")


def key_from_file(path: str | os.PathLike[str]) -> tuple[bytes, bool]:
    """The key kept in ``path`` (``--key-file``), made there first when the file does not exist.

    Returns the key and whether the file was created. A new file gets 64 random hexadecimal
    characters and mode 0600, created exclusively (a file that appears meanwhile is read, never
    overwritten). The file holds the key as ``--key`` takes it: its text, trailing whitespace
    and line ending left out, so ``--key-file F`` and ``--key "$(cat F)"`` scrub alike.
    """
    path = Path(path)
    created = False
    if not path.exists() and not path.is_symlink():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another run: read it as it is
        except OSError as error:
            raise ScrubError(
                f"{path}: cannot create the key file: {error.strerror or error}"
            ) from None
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32) + "\n")
            created = True
    if not path.is_file():
        raise ScrubError(f"{path}: --key-file must be a regular file holding the key")
    try:
        text = path.read_text("utf-8").rstrip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ScrubError(f"{path}: cannot read the key file: {reason or error}") from None
    return parse_key(text, f"{path}: the key"), created


def _strings(document: object, values: set[str], keys: set[str]) -> None:
    """Collect the string values and the object keys of a parsed JSON document."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys.update(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            values.add(item)


class _ValueGuard:
    """Makes sure no input string value of 4 characters or more comes out as a string value: a
    value whose replacement would be one is mapped again, whole, with another key
    (consistently: the same value always gets the same second replacement)."""

    def __init__(self, key: bytes, bands: dict[str, tuple[str, int]], protected: set[str]):
        self.key, self.bands, self.protected = key, bands, protected
        self.remapped = 0
        self._again: dict[str, str] = {}

    def __call__(self, original: str, mapped: str) -> str:
        if mapped not in self.protected:
            return mapped
        again = self._again.get(original)
        if again is None:
            for attempt in range(1, 65):
                salted = hmac.digest(self.key, f"value\0{attempt}".encode(), "sha256")
                again = TokenMap(salted, self.bands).text(original)
                if again not in self.protected:
                    break
            self._again[original] = again
            self.remapped += 1
        return again


def _with_json_flags(
    messages: Iterable[Message], is_json: Sequence[bool]
) -> Iterator[tuple[Message, bool]]:
    """Each message with whether it is JSON (``is_json`` has one flag per text message)."""
    flags = iter(is_json)
    for message in messages:
        yield message, (next(flags) if message.is_text else False)


def _scrub_message(
    message: Message,
    is_json: bool,
    mapper: TokenMap | CharMap,
    substitution: bytes,
    guard: Guard | None,
    *,
    keys: bool,
) -> Message:
    """One message scrubbed: JSON, plain text or binary."""
    if not message.is_text:
        return replace(message, payload=scrub_binary(message.payload, mapper, substitution))
    text = message.payload.decode("utf-8", "surrogatepass")
    scrubbed = scrub_json(text, mapper, keys=keys, guard=guard) if is_json else mapper.text(text)
    return replace(message, payload=scrubbed.encode("utf-8", "surrogatepass"))


# Permute mode tries this many keyed permutations and keeps the one whose compressed sizes move
# least on the probe cells. At memLevel 1 and 2 zlib's hash table has 256 or 512 entries indexed
# by the low bits of three bytes, so which strings collide, and which matches deflate finds within
# its chain limit, depends on the byte values: any one permutation moves compressed sizes by up to
# 1.2% there, depending on the key (measured on bench/scrub.py's corpora with five keys). Trying
# several and measuring is what keeps every cell within 0.5%.
PERMUTE_CANDIDATES = 16
# memLevel 1 and 2, where the hash moves sizes most, at small, middle and large windows; 15:9 for
# the Huffman headers alone.
PROBE_CELLS = tuple((bits, level) for level in (1, 2, 3) for bits in range(9, 16)) + ((15, 9),)
# The probe compresses at most this much of the corpus (its first messages).
PROBE_BYTES = 2 << 20


def _permute_variant(messages: Sequence[Message], is_json: Sequence[bool], key: bytes) -> int:
    """Which of the key's candidate permutations moves compressed sizes least (measured)."""
    sample: list[tuple[Message, bool]] = []
    total = 0
    for message, flag in _with_json_flags(messages, is_json):
        if total >= PROBE_BYTES:
            break
        sample.append((message, flag))
        total += len(message.payload)
    if not total:
        return 0
    before = _cell_sizes([message for message, _ in sample], PROBE_CELLS)
    best, best_score = 0, float("inf")
    for variant in range(PERMUTE_CANDIDATES):
        mapper = CharMap(key, variant)
        substitution = _byte_substitution(key, variant)
        scrubbed = [
            _scrub_message(message, flag, mapper, substitution, None, keys=True)
            for message, flag in sample
        ]
        after = _cell_sizes(scrubbed, PROBE_CELLS)
        score = max(abs(after[cell] / before[cell] - 1) for cell in PROBE_CELLS if before[cell])
        if score < best_score:
            best, best_score = variant, score
    return best


def scrub_messages(
    messages: Sequence[Message], mode: str = DEFAULT_MODE, key: bytes | None = None
) -> tuple[list[Message], ScrubReport]:
    """Scrub every message; connection, direction, time and kind (text or binary) stay."""
    if mode not in MODES:
        raise ScrubError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    key = key if key is not None else secrets.token_bytes(32)
    tokens_mode = mode == "tokens"
    # First pass: which texts are JSON and, for tokens mode, the corpus's character frequencies,
    # tokens, string values and keys. Parsed documents are dropped at once: a big corpus parsed
    # whole would take several times its size in memory.
    is_json: list[bool] = []
    counts: Counter[str] = Counter()
    tokens: set[str] = set()
    values: set[str] = set()
    keys: set[str] = set()
    for message in messages:
        if not message.is_text:
            if tokens_mode:
                for match in _BINARY_RUN.finditer(message.payload):
                    run = match.group().decode("ascii")
                    counts.update(run)
                    if len(run) >= 4:
                        tokens.add(run)
            continue
        text = message.payload.decode("utf-8", "surrogatepass")
        document = _parse_json(text)
        is_json.append(document is not _NOT_JSON)
        if tokens_mode:
            counts.update(text)
            tokens.update(token for token in _TOKEN.findall(text) if len(token) >= 4)
            if document is not _NOT_JSON:
                _strings(document, values, keys)
    mapper: TokenMap | CharMap
    guard: _ValueGuard | None = None
    variant = 0  # permute mode's measured choice; binary bytes in tokens mode use the first
    if tokens_mode:
        bands = _bands(counts)
        mapper = TokenMap(key, bands, frozenset(tokens))
        # Every value, also one that is a key somewhere: a secret that appears once as a key
        # (a map keyed by card number or e-mail) must not be kept everywhere else for it.
        protected = {
            value for value in values if len(value) >= 4 and any(char_class(c) for c in value)
        }
        guard = _ValueGuard(key, bands, protected)
    else:
        variant = _permute_variant(messages, is_json, key)
        mapper = CharMap(key, variant)
    substitution = _byte_substitution(key, variant)
    names = connection_pseudonyms((message.connection for message in messages), key)
    out = [
        replace(
            _scrub_message(message, flag, mapper, substitution, guard, keys=True),
            connection=names[message.connection],
        )
        for message, flag in _with_json_flags(messages, is_json)
    ]
    json_count = sum(is_json)
    report = ScrubReport(
        mode=mode,
        messages=len(messages),
        json_messages=json_count,
        text_messages=len(is_json) - json_count,
        binary_messages=len(messages) - len(is_json),
        raw_bytes=sum(len(m.payload) for m in out),
        distinct_tokens=len(mapper._tokens) if isinstance(mapper, TokenMap) else 0,
        remapped_values=guard.remapped if guard is not None else 0,
        permutation=variant,
    )
    return out, report


def connection_pseudonyms(connections: Iterable[str], key: bytes) -> dict[str, str]:
    """A keyed pseudonym for every connection name (``conn-`` and 16 hexadecimal digits of
    HMAC-SHA256): a name a capture took from a client (an address, a user, a session) never
    reaches the output, while each connection stays one stream, apart from every other."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for connection in connections:
        if connection in names:
            continue
        name = connection.encode("utf-8", "surrogatepass")
        digest = hmac.digest(key, b"connection\0" + name, "sha256")
        pseudonym = f"conn-{digest[:8].hex()}"
        if pseudonym in taken:  # two names, one pseudonym (2**-64 a pair): 32 digits then
            pseudonym = f"conn-{digest[:16].hex()}"
        names[connection] = pseudonym
        taken.add(pseudonym)
    return names


def scrub_corpus(
    corpus: Corpus, mode: str = DEFAULT_MODE, key: bytes | None = None
) -> tuple[Corpus, ScrubReport]:
    """A scrubbed copy of ``corpus`` (see :func:`scrub_messages`)."""
    messages, report = scrub_messages(corpus.messages, mode, key)
    return Corpus(corpus.path, corpus.format, corpus.sha256, messages, corpus.sampled), report


# How much compressibility moved -------------------------------------------------------------------


@dataclass(frozen=True)
class CellChange:
    """One cell's compressed size before and after scrubbing."""

    window_bits: int
    mem_level: int
    raw_bytes: int
    original_bytes: int
    scrubbed_bytes: int

    @property
    def label(self) -> str:
        """``WB:ML``."""
        return f"{self.window_bits}:{self.mem_level}"

    @property
    def savings_points(self) -> float:
        """Savings (1 - compressed/raw) of the scrubbed corpus minus the original's, in points."""
        return 100 * (self.original_bytes - self.scrubbed_bytes) / self.raw_bytes

    @property
    def size_percent(self) -> float:
        """Compressed size of the scrubbed corpus against the original's, in percent."""
        return 100 * (self.scrubbed_bytes / self.original_bytes - 1)


@dataclass(frozen=True)
class Comparison:
    """Compressed sizes of a corpus and its scrubbed copy over a grid of settings."""

    cells: list[CellChange]

    def worst(self, mode: str = DEFAULT_MODE) -> CellChange:
        """The cell that moved most: in savings points (tokens mode) or in size (permute)."""
        if mode == "tokens":
            return max(self.cells, key=lambda cell: abs(cell.savings_points))
        return max(self.cells, key=lambda cell: abs(cell.size_percent))


def grid_sizes(
    corpus: Corpus,
    window_bits: Iterable[int] = range(9, 16),
    mem_levels: Iterable[int] = range(1, 10),
) -> dict[tuple[int, int], int]:
    """Compressed bytes of ``corpus`` at every (window bits, memLevel), level -1, context takeover.

    Sizes only, with the codec functions and zlib module (stdlib zlib) the sweep uses: exact and
    deterministic.
    """
    levels = list(mem_levels)
    return _corpus_cell_sizes(corpus, [(bits, level) for bits in window_bits for level in levels])


def _cell_sizes(
    messages: Sequence[Message], cells: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Compressed bytes of ``messages`` at each (window bits, memLevel) cell."""
    return _corpus_cell_sizes(Corpus("", "records", "", messages), cells)


def _corpus_cell_sizes(
    corpus: Corpus, cells: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    from wsztune import permessage_deflate

    zlib_module = permessage_deflate.get_zlib_module("zlib")
    streams = corpus.streams()
    sizes = {}
    for bits, level in cells:
        setting = permessage_deflate.Setting(bits, level)
        sizes[bits, level] = sum(
            len(frame)
            for stream in streams
            for frame in permessage_deflate.compress_stream(
                stream.payloads, setting, setting.bits_for(stream.direction), zlib_module
            )
        )
    return sizes


def compare_sizes(
    original: Corpus,
    scrubbed: Corpus,
    original_sizes: dict[tuple[int, int], int] | None = None,
) -> Comparison:
    """Compressed sizes of ``original`` and ``scrubbed`` over the 63-cell grid, cell by cell.

    ``original_sizes`` (from :func:`grid_sizes`) saves compressing the original again.
    """
    before = original_sizes if original_sizes is not None else grid_sizes(original)
    window_bits = sorted({bits for bits, _ in before})
    mem_levels = sorted({level for _, level in before})
    after = grid_sizes(scrubbed, window_bits, mem_levels)
    return Comparison(
        [
            CellChange(bits, level, original.raw_bytes, before[bits, level], after[bits, level])
            for (bits, level) in before
        ]
    )


# Writing ------------------------------------------------------------------------------------------


def records_lines(messages: Iterable[Message]) -> Iterator[str]:
    """The ``records/1`` lines of ``messages``, header first (``t`` kept when a message has one)."""
    yield json.dumps({RECORDS_HEADER_KEY: RECORDS_HEADER_VALUE}, separators=(",", ":"))
    for message in messages:
        record: dict[str, object] = {
            "connection": message.connection,
            "direction": message.direction,
        }
        t = getattr(message, "t", None)  # records may carry a time (wsztune record)
        if t is not None:
            record["t"] = t
        if message.is_text:
            record["text"] = message.payload.decode("utf-8", "surrogatepass")
        else:
            record["base64"] = base64.b64encode(message.payload).decode("ascii")
        yield json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def check_output(path: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Fail before any work if ``path`` cannot be written (a directory, a missing or read-only
    parent) or already exists and ``overwrite`` was not asked for: a sample committed for CI is
    never replaced by accident."""
    path = Path(path)
    if not path.is_dir() and path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise ScrubError(
            f"{path}: the output is a records file; give it a .jsonl name (such as "
            f"{path.with_suffix('.jsonl').name}) so that wsztune reads it back as one"
        )
    if path.is_dir():
        raise ScrubError(
            f"{path}: is a directory; -o takes a file name, such as {path / 'scrubbed.jsonl'}"
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ScrubError(
            f"{path}: exists; choose another -o, or pass --overwrite to replace it"
        )
    if path.exists() and not path.is_file():
        raise ScrubError(f"{path}: not a regular file; -o takes a file name")
    if not path.parent.is_dir():
        raise ScrubError(f"{path.parent}: no such directory; create it or choose another -o")
    if not os.access(path.parent, os.W_OK):
        raise ScrubError(f"{path.parent}: cannot write there; choose another -o")


def write_records(messages: Iterable[Message], path: str | os.PathLike[str]) -> Path:
    """Write ``messages`` as a records file, atomically: all of it or, on any error, nothing.

    A symlink's target is replaced and the link kept (renaming over the link turned it into a
    file and left what it named unchanged)."""
    link = Path(path)
    path = Path(os.path.realpath(link)) if link.is_symlink() else link
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise ScrubError(
            f"{path}: cannot write there ({error.strerror or error}); choose another -o"
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as stream:
            for line in records_lines(messages):
                stream.write(line + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return link
