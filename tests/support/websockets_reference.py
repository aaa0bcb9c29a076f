"""What python-websockets itself puts on the wire: the reference the tests hold wsztune to."""

from __future__ import annotations

from collections.abc import Sequence

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode


def websockets_frames(
    payloads: Sequence[bytes],
    window_bits: int,
    mem_level: int,
    *,
    context_takeover: bool = True,
    level: int = -1,
    is_text: Sequence[bool] | None = None,
) -> list[bytes]:
    """Frame payloads websockets' PerMessageDeflate.encode produces for one stream."""
    extension = PerMessageDeflate(
        False,
        not context_takeover,
        window_bits,
        window_bits,
        {"memLevel": mem_level, "level": level},
    )
    out = []
    for index, payload in enumerate(payloads):
        text = True if is_text is None else is_text[index]
        frame = Frame(Opcode.TEXT if text else Opcode.BINARY, payload)
        out.append(bytes(extension.encode(frame).data))
    return out
