// wsztune's JZlib helper: compresses corpus messages exactly as Netty's JZlibEncoder does
// (com.jcraft.jzlib, raw deflate, one deflate(Z_SYNC_FLUSH) per message, the 00 00 ff ff tail
// stripped by Netty's DeflateEncoder, an empty message sent as the single byte 00 without touching
// the compressor), inflates every frame back with the JDK's Inflater (Netty's JdkZlibDecoder) to
// check the round trip, and times both. Shipped as source in wsztune/codecs/jzlibhelper/ and
// compiled on first use into wsztune's cache against the system's jzlib.jar (Debian:
// libjzlib-java). Driven by wsztune/codecs/jzlib.py; never run by hand.
//
// Commands:
//   cells JOBFILE     one JSON line per cell (sizes, round trip checked, timing samples)
//   memory CORPUS STREAM LEVEL:BITS:MEMLEVEL ...
//                     per spec, a JSON line: bytes the JVM allocates to build one compressor
//                     (held) and, with them, to compress the stream's first message (peak)
//   frames MESSAGES LEVEL BITS MEMLEVEL TAKEOVER
//                     each message's frame payload, in hex, one per line (for the tests)
//
// JOBFILE lines: "corpus PATH", "directions server client ...", "timing REPEAT WARMUP MINSECONDS"
// or "timing none", then per cell
// "cell ID LEVEL SERVERBITS CLIENTBITS MEMLEVEL CLIENTLEVEL CLIENTMEMLEVEL TAKEOVER THRESHOLD".
// CORPUS: per stream a u32 message count, per message a u32 length and the bytes (little-endian).
// MESSAGES: one stream in the same format without the count (u32 length, bytes; little-endian).

import com.jcraft.jzlib.Deflater;
import com.jcraft.jzlib.JZlib;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.FileReader;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

public final class WsztuneJZlib {
    private static final byte[] TAIL = {0, 0, (byte) 0xff, (byte) 0xff};
    // What Netty's DeflateEncoder sends for an empty message (EMPTY_DEFLATE_BLOCK).
    private static final byte[] EMPTY_BLOCK = {0};

    private WsztuneJZlib() {}

    /** One cell as the job file gives it. */
    private static final class Cell {
        int id, level, serverBits, clientBits, memLevel, clientLevel, clientMemLevel, threshold;
        boolean takeover;
    }

    /** One stream's frames in one buffer: payloads without the tail, and their end offsets. */
    private static final class Frames {
        byte[] data = new byte[1 << 16];
        int length;
        int[] ends = new int[16];
        boolean[] raw = new boolean[16];
        int count;
        int compressed;

        void add(byte[] source, int offset, int size, boolean isRaw) {
            if (length + size > data.length) {
                data = java.util.Arrays.copyOf(data, Math.max(data.length * 2, length + size));
            }
            System.arraycopy(source, offset, data, length, size);
            length += size;
            if (count == ends.length) {
                ends = java.util.Arrays.copyOf(ends, count * 2);
                raw = java.util.Arrays.copyOf(raw, count * 2);
            }
            ends[count] = length;
            raw[count] = isRaw;
            count++;
            if (!isRaw) {
                compressed++;
            }
        }

        int start(int index) {
            return index == 0 ? 0 : ends[index - 1];
        }
    }

    /** Compresses one stream's messages as Netty's encoder does; reuses its output buffer. */
    private static final class Sender {
        final int level, bits, memLevel, threshold;
        final boolean takeover;
        Deflater deflater;
        byte[] out = new byte[1 << 16];
        int outLength;

        Sender(int level, int bits, int memLevel, boolean takeover, int threshold) {
            this.level = level;
            this.bits = bits;
            this.memLevel = memLevel;
            this.takeover = takeover;
            this.threshold = threshold;
        }

        /** The message's frame payload in out[0..outLength); false when sent uncompressed. */
        boolean send(byte[] payload, int offset, int length) {
            if (length < threshold) {
                ensure(length);
                System.arraycopy(payload, offset, out, 0, length);
                outLength = length;
                return false;
            }
            if (length == 0) {
                out[0] = 0;
                outLength = 1;
                return true;
            }
            if (deflater == null) {
                deflater = new Deflater();
                check(deflater.init(level, bits, memLevel, JZlib.W_NONE), "init");
            }
            // JZlibEncoder's output bound; grown (never reached in practice) rather than lose bytes.
            ensure((int) Math.ceil(length * 1.001) + 12);
            deflater.next_in = payload;
            deflater.next_in_index = offset;
            deflater.avail_in = length;
            int position = 0;
            while (true) {
                deflater.next_out = out;
                deflater.next_out_index = position;
                deflater.avail_out = out.length - position;
                check(deflater.deflate(JZlib.Z_SYNC_FLUSH), "deflate");
                position = deflater.next_out_index;
                if (deflater.avail_in == 0 && deflater.avail_out > 0) {
                    break;
                }
                out = java.util.Arrays.copyOf(out, out.length * 2);
            }
            deflater.next_in = null;
            deflater.next_out = null;
            if (position < 4 || out[position - 4] != 0 || out[position - 3] != 0
                    || out[position - 2] != (byte) 0xff || out[position - 1] != (byte) 0xff) {
                throw new IllegalStateException("a sync flush without its 00 00 ff ff tail");
            }
            outLength = position - 4;
            if (!takeover) {
                deflater.end();
                deflater = null;
            }
            return true;
        }

        void reset() {
            if (deflater != null) {
                deflater.end();
                deflater = null;
            }
        }

        private void ensure(int size) {
            if (out.length < size) {
                out = new byte[Math.max(size, out.length * 2)];
            }
        }

        private static void check(int code, String what) {
            if (code != JZlib.Z_OK) {
                throw new IllegalStateException("JZlib " + what + " failed: " + code);
            }
        }
    }

    /** Inflates one stream's frames as the JDK's Inflater (Netty's JdkZlibDecoder) does. */
    private static final class Receiver {
        final boolean takeover;
        Inflater inflater;
        byte[] input = new byte[1 << 16];
        byte[] output = new byte[1 << 16];

        Receiver(boolean takeover) {
            this.takeover = takeover;
        }

        /** Inflate frames.data[start..end) + tail; returns the length in output. */
        int inflate(byte[] data, int start, int end) throws DataFormatException {
            int size = end - start;
            if (input.length < size + 4) {
                input = new byte[Math.max(size + 4, input.length * 2)];
            }
            System.arraycopy(data, start, input, 0, size);
            System.arraycopy(TAIL, 0, input, size, 4);
            if (inflater == null || !takeover) {
                if (inflater != null) {
                    inflater.end();
                }
                inflater = new Inflater(true);
            }
            inflater.setInput(input, 0, size + 4);
            int produced = 0;
            while (true) {
                if (produced == output.length) {
                    output = java.util.Arrays.copyOf(output, output.length * 2);
                }
                int got = inflater.inflate(output, produced, output.length - produced);
                produced += got;
                if (got == 0 && (inflater.needsInput() || inflater.finished())) {
                    break;
                }
            }
            return produced;
        }

        void reset() {
            if (inflater != null) {
                inflater.end();
                inflater = null;
            }
        }
    }

    // Reading --------------------------------------------------------------------------------

    private static List<List<byte[]>> readCorpus(String path) throws IOException {
        List<List<byte[]>> streams = new ArrayList<>();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(path)))) {
            while (true) {
                int count;
                try {
                    count = Integer.reverseBytes(in.readInt());
                } catch (EOFException end) {
                    break;
                }
                List<byte[]> stream = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    byte[] payload = new byte[Integer.reverseBytes(in.readInt())];
                    in.readFully(payload);
                    stream.add(payload);
                }
                streams.add(stream);
            }
        }
        return streams;
    }

    private static List<byte[]> readMessages(String path) throws IOException {
        List<byte[]> messages = new ArrayList<>();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(path)))) {
            while (true) {
                int length;
                try {
                    length = Integer.reverseBytes(in.readInt());
                } catch (EOFException end) {
                    break;
                }
                byte[] payload = new byte[length];
                in.readFully(payload);
                messages.add(payload);
            }
        }
        return messages;
    }

    // Cells ------------------------------------------------------------------------------------

    private static Sender senderFor(Cell cell, boolean server) {
        return server
                ? new Sender(cell.level, cell.serverBits, cell.memLevel, cell.takeover, cell.threshold)
                : new Sender(cell.clientLevel, cell.clientBits, cell.clientMemLevel, cell.takeover,
                        cell.threshold);
    }

    private static Frames compressStream(List<byte[]> stream, Sender sender) {
        Frames frames = new Frames();
        for (byte[] payload : stream) {
            boolean compressed = sender.send(payload, 0, payload.length);
            frames.add(sender.out, 0, sender.outLength, !compressed);
        }
        sender.reset();
        return frames;
    }

    private static void checkStream(List<byte[]> stream, Frames frames, boolean takeover, String what)
            throws DataFormatException {
        Receiver receiver = new Receiver(takeover);
        for (int i = 0; i < frames.count; i++) {
            byte[] original = stream.get(i);
            if (frames.raw[i]) {
                continue;
            }
            int length = receiver.inflate(frames.data, frames.start(i), frames.ends[i]);
            if (!java.util.Arrays.equals(receiver.output, 0, length, original, 0, original.length)) {
                throw new IllegalStateException("round trip failed: message " + i + " of " + what);
            }
        }
        receiver.reset();
    }

    private static long cpu() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private static void runCells(String jobPath, PrintStream out) throws Exception {
        String corpusPath = null;
        String[] directions = null;
        double[] timing = null;
        List<Cell> cells = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new FileReader(jobPath))) {
            for (String line; (line = reader.readLine()) != null; ) {
                String[] parts = line.trim().split(" ");
                switch (parts[0]) {
                    case "corpus":
                        corpusPath = line.trim().substring("corpus ".length());
                        break;
                    case "directions":
                        directions = java.util.Arrays.copyOfRange(parts, 1, parts.length);
                        break;
                    case "timing":
                        if (!parts[1].equals("none")) {
                            timing = new double[] {Double.parseDouble(parts[1]),
                                Double.parseDouble(parts[2]), Double.parseDouble(parts[3])};
                        }
                        break;
                    case "cell":
                        Cell cell = new Cell();
                        cell.id = Integer.parseInt(parts[1]);
                        cell.level = Integer.parseInt(parts[2]);
                        cell.serverBits = Integer.parseInt(parts[3]);
                        cell.clientBits = Integer.parseInt(parts[4]);
                        cell.memLevel = Integer.parseInt(parts[5]);
                        cell.clientLevel = Integer.parseInt(parts[6]);
                        cell.clientMemLevel = Integer.parseInt(parts[7]);
                        cell.takeover = parts[8].equals("1");
                        cell.threshold = Integer.parseInt(parts[9]);
                        cells.add(cell);
                        break;
                    default:
                        throw new IllegalArgumentException("bad job line: " + line);
                }
            }
        }
        List<List<byte[]>> streams = readCorpus(corpusPath);
        for (Cell cell : cells) {
            out.println(measureCell(cell, streams, directions, timing));
            out.flush();
        }
    }

    private static String measureCell(Cell cell, List<List<byte[]>> streams, String[] directions,
                                      double[] timing) throws Exception {
        int count = streams.size();
        Frames[] frames = new Frames[count];
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        long started = cpu();
        for (int s = 0; s < count; s++) {
            frames[s] = compressStream(streams.get(s), senderFor(cell, directions[s].equals("server")));
        }
        long compressOnce = cpu() - started;
        started = cpu();
        for (int s = 0; s < count; s++) {
            checkStream(streams.get(s), frames[s], cell.takeover, "stream " + s + " of cell " + cell.id);
        }
        long decompressOnce = cpu() - started;
        StringBuilder json = new StringBuilder("{\"id\":").append(cell.id).append(",\"streams\":[");
        for (int s = 0; s < count; s++) {
            Frames f = frames[s];
            digest.update(f.data, 0, f.length);
            ByteBuffer sizes = ByteBuffer.allocate(4 * f.count).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < f.count; i++) {
                sizes.putInt(f.ends[i] - f.start(i));
            }
            json.append(s == 0 ? "" : ",").append("{\"sizes\":\"")
                .append(Base64.getEncoder().encodeToString(sizes.array()))
                .append("\",\"compressed_messages\":").append(f.compressed).append('}');
        }
        json.append("],\"sha256\":\"").append(hex(digest.digest())).append('"');
        if (timing != null) {
            int repeat = (int) timing[0];
            int warmup = (int) timing[1];
            double minSample = timing[2];
            Runnable compressAll = () -> {
                for (int s = 0; s < count; s++) {
                    Sender sender = senderFor(cell, directions[s].equals("server"));
                    for (byte[] payload : streams.get(s)) {
                        sender.send(payload, 0, payload.length);
                    }
                    sender.reset();
                }
            };
            Runnable decompressAll = () -> {
                try {
                    for (int s = 0; s < count; s++) {
                        Frames f = frames[s];
                        Receiver receiver = new Receiver(cell.takeover);
                        for (int i = 0; i < f.count; i++) {
                            if (!f.raw[i]) {
                                receiver.inflate(f.data, f.start(i), f.ends[i]);
                            }
                        }
                        receiver.reset();
                    }
                } catch (DataFormatException error) {
                    throw new IllegalStateException(error);
                }
            };
            // The JIT compiles the hot loops during the first passes: warm up at least 0.2 s of
            // CPU as well as the plan's passes, so that samples time compiled code.
            long warmStart = cpu();
            for (int i = 0; i < warmup || cpu() - warmStart < 200_000_000L; i++) {
                compressAll.run();
                decompressAll.run();
            }
            samples(json, "compress", compressAll, repeat, loops(compressOnce, minSample), minSample);
            samples(json, "decompress", decompressAll, repeat, loops(decompressOnce, minSample),
                minSample);
        }
        return json.append('}').toString();
    }

    private static int loops(long onceNanos, double minSampleSeconds) {
        if (onceNanos <= 0) {
            return 1000;
        }
        // wsztune.codecs.base.loops_for: the whole number of passes whose time comes nearest.
        return Math.max(1, (int) Math.floor(minSampleSeconds * 1e9 / onceNanos + 0.5));
    }

    // wsztune.codecs.base.time_samples: repeat samples in seconds per pass, the first of `loops`
    // passes (judged by the cell's first pass), the later ones of loops(the first sample's time per
    // pass), whose passes are warm where the cell's first is not; appended to the cell's JSON as
    // "<name>_samples" and "loops_<name>" (the later ones' loops).
    private static void samples(StringBuilder json, String name, Runnable work, int repeat, int loops,
                                double minSample) {
        json.append(",\"").append(name).append("_samples\":[");
        for (int r = 0; r < repeat; r++) {
            long started = cpu();
            for (int i = 0; i < loops; i++) {
                work.run();
            }
            long perPass = (cpu() - started) / loops;
            json.append(r == 0 ? "" : ",").append(perPass / 1e9);
            if (r == 0) {
                loops = loops(perPass, minSample);
            }
        }
        json.append("],\"loops_").append(name).append("\":").append(loops);
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 15, 16)).append(Character.forDigit(b & 15, 16));
        }
        return out.toString();
    }

    // Memory ---------------------------------------------------------------------------------

    private static long allocated() {
        com.sun.management.ThreadMXBean bean =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return bean.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    private static void memory(String[] args, PrintStream out) throws Exception {
        List<byte[]> stream = readCorpus(args[1]).get(Integer.parseInt(args[2]));
        byte[] first = stream.isEmpty() ? new byte[0] : stream.get(0);
        byte[] output = new byte[(int) Math.ceil(first.length * 1.001) + 64];
        for (int spec = 3; spec < args.length; spec++) {
            String[] parts = args[spec].split(":");
            int level = Integer.parseInt(parts[0]);
            int bits = Integer.parseInt(parts[1]);
            int memLevel = Integer.parseInt(parts[2]);
            long held = Long.MAX_VALUE;
            long peak = Long.MAX_VALUE;
            // Three rounds, the smallest kept: the first may count class loading.
            for (int round = 0; round < 3; round++) {
                long before = allocated();
                Deflater deflater = new Deflater();
                deflater.init(level, bits, memLevel, JZlib.W_NONE);
                long built = allocated();
                deflater.next_in = first;
                deflater.next_in_index = 0;
                deflater.avail_in = first.length;
                deflater.next_out = output;
                deflater.next_out_index = 0;
                deflater.avail_out = output.length;
                if (first.length > 0) {
                    deflater.deflate(JZlib.Z_SYNC_FLUSH);
                }
                long after = allocated();
                held = Math.min(held, built - before);
                peak = Math.min(peak, after - before);
                deflater.end();
            }
            out.println("{\"held\":" + held + ",\"peak\":" + peak + "}");
        }
    }

    // Frames, for the tests ----------------------------------------------------------------------

    private static void frames(String[] args, PrintStream out) throws IOException {
        List<byte[]> messages = readMessages(args[1]);
        Sender sender = new Sender(Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                Integer.parseInt(args[4]), args[5].equals("1"), 0);
        StringBuilder text = new StringBuilder();
        for (byte[] payload : messages) {
            sender.send(payload, 0, payload.length);
            text.append(hex(java.util.Arrays.copyOf(sender.out, sender.outLength))).append('\n');
        }
        out.print(text);
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, "UTF-8");
        switch (args.length == 0 ? "" : args[0]) {
            case "cells":
                runCells(args[1], out);
                break;
            case "memory":
                memory(args, out);
                break;
            case "frames":
                frames(args, out);
                break;
            default:
                System.err.println("usage: WsztuneJZlib cells JOBFILE | memory ... | frames ...");
                System.exit(2);
        }
        out.flush();
    }
}
