// Drives Netty's own permessage-deflate server extension (PerMessageDeflateServerExtensionHandshaker
// and the encoder it hands out) as a server pipeline would, on messages read from a file, and
// prints every frame the encoder writes: its RSV bits and its payload in hex. The encoder runs in
// an EmbeddedChannel, the way Netty's own tests drive it: no socket, the same handler code.
// Used by tests/codecs/test_verify_netty.py; compiled into a temporary directory per test session against
// Debian's libnetty-java and libjzlib-java jars, never committed.
//
// Usage: java -cp netty-*.jar:jzlib.jar:. WsztuneNettyDeflate LEVEL MESSAGES [PARAM[=VALUE] ...]
// LEVEL: compressionLevel of the handshaker (allowServerWindowSize and allowServerNoContext on,
// as a server that lets clients pick both). MESSAGES: per message, one byte (1: text, 0: binary),
// a 4-byte big-endian length, the payload. PARAMs: the client's offer.
// Output: "extension permessage-deflate[; param=value...]" or "refused", then
// "encoder <class of the zlib encoder Netty picked>", then per message "<rsv> <payload hex>".
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionData;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtension;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;

public final class WsztuneNettyDeflate {
    public static void main(String[] args) throws Exception {
        int level = Integer.parseInt(args[0]);
        Map<String, String> offer = new HashMap<>();
        for (int i = 2; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            offer.put(pair[0], pair.length > 1 ? pair[1] : null);
        }
        PerMessageDeflateServerExtensionHandshaker handshaker =
                new PerMessageDeflateServerExtensionHandshaker(level, true, 15, true, false);
        WebSocketServerExtension extension =
                handshaker.handshakeExtension(new WebSocketExtensionData("permessage-deflate", offer));
        StringBuilder out = new StringBuilder();
        if (extension == null) {
            System.out.println("refused");
            return;
        }
        WebSocketExtensionData response = extension.newReponseData();
        out.append("extension ").append(response.name());
        for (Map.Entry<String, String> parameter : new java.util.TreeMap<>(response.parameters()).entrySet()) {
            out.append("; ").append(parameter.getKey());
            if (parameter.getValue() != null) {
                out.append('=').append(parameter.getValue());
            }
        }
        out.append('\n');
        WebSocketExtensionEncoder encoder = extension.newExtensionEncoder();
        EmbeddedChannel channel = new EmbeddedChannel(encoder);
        String codec = null;
        StringBuilder frames = new StringBuilder();
        try (DataInputStream in = new DataInputStream(
                new BufferedInputStream(new FileInputStream(args[1])))) {
            while (true) {
                int text;
                try {
                    text = in.readUnsignedByte();
                } catch (EOFException end) {
                    break;
                }
                byte[] payload = new byte[in.readInt()];
                in.readFully(payload);
                ByteBuf content = Unpooled.wrappedBuffer(payload);
                WebSocketFrame frame = text == 1 ? new TextWebSocketFrame(content)
                        : new BinaryWebSocketFrame(content);
                channel.writeOutbound(frame);
                if (codec == null) {
                    codec = zlibEncoderClass(encoder);
                }
                for (WebSocketFrame sent; (sent = channel.readOutbound()) != null; ) {
                    ByteBuf bytes = sent.content();
                    frames.append(sent.rsv()).append(' ')
                          .append(io.netty.buffer.ByteBufUtil.hexDump(bytes)).append('\n');
                    sent.release();
                }
            }
        }
        out.append("encoder ").append(codec).append('\n').append(frames);
        channel.finishAndReleaseAll();
        System.out.print(out);
    }

    // The zlib encoder DeflateEncoder built (its private EmbeddedChannel "encoder"): which codec
    // ZlibCodecFactory chose, JdkZlibEncoder or JZlibEncoder. Null when it built none (a connection
    // whose compressor is dropped after each message).
    private static String zlibEncoderClass(WebSocketExtensionEncoder encoder) throws Exception {
        Class<?> type = encoder.getClass();
        while (type != null && !type.getSimpleName().equals("DeflateEncoder")) {
            type = type.getSuperclass();
        }
        Field field = type.getDeclaredField("encoder");
        field.setAccessible(true);
        EmbeddedChannel inner = (EmbeddedChannel) field.get(encoder);
        if (inner == null) {
            return "none-kept";
        }
        ChannelHandler first = inner.pipeline().first();
        return first.getClass().getSimpleName();
    }
}
