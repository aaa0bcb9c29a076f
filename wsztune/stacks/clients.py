"""Clients: browsers and client libraries, what they compress with and what they let a server cap.

The codec behaviour (``--client``) is wired by the verify work; these are the facts it uses.
"""

from __future__ import annotations

from wsztune.stacks.profile import APPROXIMATE, VERIFIED, Client, Source

CLIENTS = (
    Client(
        name="chrome",
        title="Chromium / Chrome",
        codec="zlib",
        mem_level=8,
        caps_window=True,
        window=15,
        min_window=9,
        chunk=4096,
        offer="permessage-deflate; client_max_window_bits",
        status=APPROXIMATE,
        status_note="Chrome bundles Chromium's zlib fork (third_party/zlib), not available here: "
        "stock zlib at memLevel 8 is the model, within 0.1%. Debian's Chromium 156 links the "
        "system zlib and matched it exactly: 12,000 of 12,000 frames, 5 corpora, every grant "
        "8-15 (tests/stacks/test_verify_browsers.py)",
        sources=(
            Source(
                "Chromium",
                "156",
                "net/websockets/websocket_deflater.cc",
                "deflateInit2(Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, memLevel 8, "
                "Z_DEFAULT_STRATEGY), window at least 9, output read in 4096-byte chunks",
            ),
            Source(
                "ANCHORS.md section 6",
                "Chromium 156 (Debian), headless",
                "frame parser between client and server",
                "offers permessage-deflate; client_max_window_bits",
            ),
        ),
    ),
    Client(
        name="firefox",
        title="Firefox",
        codec="zlib",
        mem_level=8,
        caps_window=False,
        window=15,
        offer="permessage-deflate",
        status=VERIFIED,
        status_note="Firefox 153.8 ESR's frames equal stock zlib 15:8 level -1 byte for byte, "
        "whatever the server grants (tests/stacks/test_verify_browsers.py, 5 corpora)",
        sources=(
            Source(
                "ANCHORS.md section 6",
                "Firefox 153.8 ESR (Debian), headless",
                "frame parser between client and server",
                "offers bare permessage-deflate: the server cannot cap its window; compresses "
                "at 15 bits whatever server_max_window_bits says",
            ),
            Source(
                "Firefox",
                "153",
                "netwerk/protocol/websocket/WebSocketChannel.cpp",
                "PMCECompression: deflateInit2(Z_DEFAULT_COMPRESSION, Z_DEFLATED, "
                "-windowBits, 8, Z_DEFAULT_STRATEGY)",
            ),
        ),
        pitfalls=(
            "the server's decompressor needs the full 32 KiB window for a Firefox client, "
            "whatever client_max_window_bits the server would like",
        ),
    ),
    Client(
        name="safari",
        title="Safari (WebKit)",
        codec="zlib",
        mem_level=8,
        # Modelled as a client the server cannot cap: Safari 15+ talks WebSocket through
        # NSURLSession (Network.framework), reported to offer bare permessage-deflate. That is
        # also the safe side for the server's memory (the full 32 KiB inflate window).
        caps_window=False,
        window=15,
        offer="permessage-deflate",
        status="unverified",
        status_note="no Safari here: modelled from WebKit's source and field reports, nothing "
        "was measured; assumed to offer bare permessage-deflate (the server's decompressor "
        "then needs 15 bits) and to compress like WebKit's deflater (memLevel 8, level -1)",
        sources=(
            Source(
                "WebKit",
                "2024",
                "Source/WebCore/Modules/websockets/WebSocketDeflater.cpp",
                "deflateInit2(Z_DEFAULT_COMPRESSION, Z_DEFLATED, -windowBits, memLevel 8, "
                "Z_DEFAULT_STRATEGY)",
            ),
            Source(
                "nginx-push-stream-module",
                "issue 295 (2021)",
                "github.com/wandenberg/nginx-push-stream-module/issues/295",
                "Safari on macOS 12 uses NSURLSession WebSocket, which offers "
                "Sec-WebSocket-Extensions: permessage-deflate (no parameters)",
            ),
            Source(
                "uWebSockets",
                "issue 1347 (2022)",
                "github.com/uNetworking/uWebSockets/issues/1347",
                "permessage-deflate broken with Safari 15.0-15.3, working again from 15.4",
            ),
        ),
        pitfalls=(
            "Safari 15.0-15.3 (NSURLSession WebSocket) mishandled permessage-deflate: servers "
            "disabled compression for them",
            "Apple's WebSocket stack is closed source: its compressor's memLevel and level are "
            "WebKit's, assumed, not measured",
        ),
    ),
    Client(
        name="websockets",
        title="python-websockets connect()",
        codec="zlib",
        mem_level=5,
        caps_window=True,
        window=15,
        min_window=8,
        offer="permessage-deflate; client_max_window_bits",
        status=VERIFIED,
        status_note="the same PerMessageDeflate class as its server, verified byte for byte",
        sources=(
            Source(
                "websockets",
                "17.4",
                "src/websockets/extensions/permessage_deflate.py",
                "enable_client_permessage_deflate: client_max_window_bits=True (offered without "
                "a value), compress_settings={'memLevel': 5}",
            ),
        ),
    ),
    Client(
        name="ws",
        title="Node ws (client)",
        codec="node",
        mem_level=8,
        caps_window=True,
        window=15,
        min_window=8,
        threshold=1024,
        threshold_rule="ws",
        offer="permessage-deflate; client_max_window_bits",
        status=VERIFIED,
        status_note="the same PerMessageDeflate as ws's server, verified byte for byte",
        sources=(
            Source(
                "ws",
                "8.18",
                "lib/websocket.js",
                "perMessageDeflate defaults to true on the client, offering "
                "client_max_window_bits; zlib's defaults (15, memLevel 8); threshold 1024",
            ),
            Source(
                "ws",
                "8.23",
                "lib/sender.js (Sender.send), lib/permessage-deflate.js",
                "rsv1 = byteLength >= perMessageDeflate._threshold (the UTF-8 byte length), "
                "decided only when client_no_context_takeover was negotiated: with takeover "
                "every message is compressed",
            ),
        ),
    ),
)
