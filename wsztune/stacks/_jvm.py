"""What the JVM stacks share: the JDK's Deflater, whose window cannot be set (15 bits)."""

from __future__ import annotations

from wsztune.stacks.profile import Source

JDK_DEFLATER = Source(
    "OpenJDK",
    "17",
    "java.util.zip.Deflater",
    "new Deflater(level, nowrap=true): zlib's deflateInit2 with window 15 and memLevel 8 "
    "(DEF_MEM_LEVEL); no API sets the window or memLevel",
)

CONFIGURATOR_OFF = (
    "public class NoDeflate extends ServerEndpointConfig.Configurator {\n"
    "    @Override\n"
    "    public List<Extension> getNegotiatedExtensions(List<Extension> installed,\n"
    "                                                   List<Extension> requested) {\n"
    "        return List.of();  // no permessage-deflate: no Deflater, no Inflater\n"
    "    }\n"
    "}\n"
    '// @ServerEndpoint(value = "/ws", configurator = NoDeflate.class)'
)
