// Drives Tomcat's own permessage-deflate transformation (org.apache.tomcat.websocket.PerMessageDeflate)
// as a server would, on messages read from a file, and prints each message's frames as Tomcat
// hands them to the socket: its RSV bits and each frame's payload size. Used by
// tests/stacks/test_verify_tomcat.py; compiled into a temporary directory per test session, never committed.
//
// It sits in Tomcat's package because MessagePart's constructor and WsExtensionParameter are
// package-private: the transformation is driven exactly as WsRemoteEndpointImplBase drives it.
//
// Usage: java -cp tomcat-websocket.jar:websocket-api.jar:juli.jar:util.jar:. \
//            org.apache.tomcat.websocket.WsztuneTomcatDeflate MESSAGES [PARAM[=VALUE] ...]
// MESSAGES: per message, one byte (1: text, 0: binary), a 4-byte big-endian length, the payload.
// PARAMs: the client's offer (server_no_context_takeover, server_max_window_bits=N, ...).
// Output: "extension <name>[; param=value...]" or "refused", then per message
// "<rsv> <size> [<size> ...]" (one size per frame).
package org.apache.tomcat.websocket;

import jakarta.websocket.Extension;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.BufferedInputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

public final class WsztuneTomcatDeflate {
    public static void main(String[] args) throws Exception {
        List<Extension.Parameter> offer = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            offer.add(new WsExtensionParameter(pair[0], pair.length > 1 ? pair[1] : null));
        }
        List<List<Extension.Parameter>> preferences = new ArrayList<>();
        preferences.add(offer);
        Transformation deflate =
                TransformationFactory.getInstance().create(PerMessageDeflate.NAME, preferences, true);
        StringBuilder out = new StringBuilder();
        if (deflate == null) {
            System.out.println("refused");
            return;
        }
        Extension response = deflate.getExtensionResponse();
        out.append("extension ").append(response.getName());
        for (Extension.Parameter parameter : response.getParameters()) {
            out.append("; ").append(parameter.getName());
            if (parameter.getValue() != null) {
                out.append('=').append(parameter.getValue());
            }
        }
        out.append('\n');
        try (DataInputStream in = new DataInputStream(
                new BufferedInputStream(new FileInputStream(args[0])))) {
            while (true) {
                int text;
                try {
                    text = in.readUnsignedByte();
                } catch (EOFException end) {
                    break;
                }
                byte[] payload = new byte[in.readInt()];
                in.readFully(payload);
                byte opcode = text == 1 ? Constants.OPCODE_TEXT : Constants.OPCODE_BINARY;
                List<MessagePart> parts = new ArrayList<>();
                parts.add(new MessagePart(true, 0, opcode, ByteBuffer.wrap(payload), null, null, true, -1));
                List<MessagePart> frames = deflate.sendMessagePart(parts);
                out.append(frames.get(0).getRsv());
                for (MessagePart frame : frames) {
                    out.append(' ').append(frame.getPayload().remaining());
                }
                out.append('\n');
            }
        }
        System.out.print(out);
    }
}
