// Command wsztune-go is wsztune's Go codec: permessage-deflate as gorilla/websocket 1.5.0 and
// coder/websocket (nhooyr.io/websocket) 1.8.7 make it, measured in Go.
//
// wsztune builds it on first use (GOPATH mode, GO111MODULE=off) and runs it with a job file:
//
//	wsztune-go cells JOB.json    one JSON line per cell: frame sizes, digests, timing samples
//	wsztune-go memory JOB.json   one JSON object: heap and RSS per connection, idle and writing
//	wsztune-go version           Go's version and the libraries modelled
//	wsztune-go drain ADDR N      (its own child) N connections to ADDR, read and discarded
//
// The compressors are the libraries' own: Go's compress/flate as gorilla calls it (a flate.Writer
// per message at the connection's level, Write then Flush, the last four bytes held back), and
// klauspost/compress's StatelessDeflate as coder 1.8.7 calls it (over an 8 KiB window of the
// connection's previous messages with context takeover). The framing is the libraries' too:
// gorilla buffers a message's bytes in its write buffer and sends a frame each time it fills;
// coder sends a frame for every write that reaches it from the compressor and ends each message
// with an empty final frame. tests/codecs/test_go.py proves the frames equal what the real libraries put
// on the wire, byte for byte. A coder or gorilla broadcast's CPU per delivery is timed through
// the library's own server connections (coderDeliveries, gorillaDeliveries) over loopback TCP
// sockets a drain process reads: what its frame writes and socket writes cost a server.
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	kflate "github.com/klauspost/compress/flate"
	coderws "nhooyr.io/websocket"
)

const (
	gorilla = "gorilla"
	// nats-server's WebSocket listener (server/websocket.go): Go's flate at BestSpeed, no
	// context takeover, what is pending sent as one frame.
	nats  = "nats"
	coder = "coder"

	// gorilla's frame header room at the start of its write buffer (conn.go maxFrameHeaderSize).
	gorillaHeaderRoom = 14
	// A gorilla server built with net/http reuses the hijacked 4 KiB bufio.Writer buffer as its
	// write buffer (server.go, Upgrade: WriteBufferSize 0 and no pool); a client allocates
	// WriteBufferSize (4096 by default) plus the header room (conn.go newConn).
	gorillaServerBuffer = 4096
	gorillaClientBuffer = 4096 + gorillaHeaderRoom
	// A PreparedMessage frames on a Conn whose writeBuf is defaultWriteBufferSize +
	// maxFrameHeaderSize (prepared.go frame), as a client's: 4096 payload bytes per frame where a
	// net/http server's own connection sends 4082.
	gorillaPreparedBuffer = 4096 + gorillaHeaderRoom

	// coder's windows (write.go ensureFlate, read.go resetFlate).
	coderWriteWindow = 8192
	coderReadWindow  = 32768
)

// syncTail is what permessage-deflate drops from every message and the receiver adds back.
var syncTail = []byte{0, 0, 0xff, 0xff}

// gorilla's reader also appends a final empty stored block so that flate's reader ends cleanly.
const gorillaReadTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

type cellJob struct {
	ID        int    `json:"id"`
	Library   string `json:"library"`
	Level     int    `json:"level"`
	Takeover  bool   `json:"context_takeover"`
	Threshold int    `json:"threshold"`
	// gorilla only: a server broadcasting with PreparedMessage (prepared.go), whose frames are
	// made once on a fake connection with a write buffer of its own.
	Prepared bool `json:"prepared"`
	// A named client (--client: a browser) sends the client streams: what it sent, per stream
	// (a corpus file, server streams empty). The server inflates them; it compresses nothing
	// of theirs.
	ClientFrames string `json:"client_frames"`
	// The named client's threshold: its messages shorter than this are in the file as they
	// are (sent uncompressed, rsv1 clear), and the server does not inflate them.
	ClientThreshold int `json:"client_threshold"`
}

type timingPlan struct {
	Repeat           int           `json:"repeat"`
	Warmup           int           `json:"warmup"`
	MinSampleSeconds float64       `json:"min_sample_seconds"`
	Deliveries       *deliveryPlan `json:"deliveries"`
}

// deliveryPlan is wsztune.fanout.DeliverySchedule: a broadcast timed with per-connection
// senders interleaved, over stretches of the server's messages (indices modulo their count).
type deliveryPlan struct {
	Compressors int      `json:"compressors"`
	Warmup      int      `json:"warmup"`
	Stretches   [][2]int `json:"stretches"`
	// One sender over as many deliveries per sample: longer stretches.
	HotStretches [][2]int `json:"hot_stretches"`
	// gorilla: a PreparedMessage broadcast, timed through gorilla's own connections.
	Prepared *preparedPlan `json:"prepared"`
	// By threshold: a threshold library's compressed and raw messages, timed apart.
	Split map[string]*splitPlan `json:"split"`
}

// splitPlan is wsztune.fanout.SplitSeries: per stretch, the server-message indices of the
// messages a library at some threshold compresses, and of those it sends raw.
type splitPlan struct {
	Compressed [][]int `json:"compressed"`
	Raw        [][]int `json:"raw"`
}

// preparedPlan is how a gorilla PreparedMessage broadcast is timed (wsztune.codecs.go
// prepared_plan): through so many subscribers' connections, over these stretches, each message
// right after the last one's writes.
type preparedPlan struct {
	Connections int      `json:"connections"`
	Stretches   [][2]int `json:"stretches"`
}

type cellsJob struct {
	Corpus     string      `json:"corpus"`
	Directions []string    `json:"directions"`
	Cells      []cellJob   `json:"cells"`
	Timing     *timingPlan `json:"timing"`
}

// readCorpus reads what wsztune writes: per stream a u32 count, per message a u32 length and
// the payload (little-endian).
func readCorpus(path string) ([][][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var streams [][][]byte
	for offset := 0; offset < len(data); {
		if offset+4 > len(data) {
			return nil, errors.New("truncated corpus")
		}
		count := int(binary.LittleEndian.Uint32(data[offset:]))
		offset += 4
		stream := make([][]byte, 0, count)
		for i := 0; i < count; i++ {
			if offset+4 > len(data) {
				return nil, errors.New("truncated corpus")
			}
			size := int(binary.LittleEndian.Uint32(data[offset:]))
			offset += 4
			if offset+size > len(data) {
				return nil, errors.New("truncated corpus")
			}
			stream = append(stream, data[offset:offset+size:offset+size])
			offset += size
		}
		streams = append(streams, stream)
	}
	return streams, nil
}

// Frames ------------------------------------------------------------------------------------

// message is one message as sent: its frames' payload sizes and all its payload bytes.
type message struct {
	frames     []int
	payload    []byte
	compressed bool
}

func (m *message) reset() {
	m.frames = m.frames[:0]
	m.payload = m.payload[:0]
	m.compressed = false
}

// gorillaFrames follows gorilla's messageWriter: bytes fill the write buffer after the header
// room and a full buffer goes out as a frame before more is copied in; on a server, one write
// larger than twice the buffer goes out at once with what was buffered (conn.go Write, ncopy,
// flushFrame). Close sends what is left as the final frame.
type gorillaFrames struct {
	msg      *message
	buffer   int // len(c.writeBuf)
	server   bool
	buffered int // w.pos - maxFrameHeaderSize
}

func (g *gorillaFrames) Write(p []byte) (int, error) {
	g.msg.payload = append(g.msg.payload, p...)
	if len(p) > 2*g.buffer && g.server {
		g.msg.frames = append(g.msg.frames, g.buffered+len(p))
		g.buffered = 0
		return len(p), nil
	}
	room := g.buffer - gorillaHeaderRoom
	for rest := len(p); rest > 0; {
		free := room - g.buffered
		if free <= 0 {
			g.msg.frames = append(g.msg.frames, g.buffered)
			g.buffered = 0
			free = room
		}
		if free > rest {
			free = rest
		}
		g.buffered += free
		rest -= free
	}
	return len(p), nil
}

func (g *gorillaFrames) Close() error {
	g.msg.frames = append(g.msg.frames, g.buffered)
	g.buffered = 0
	return nil
}

// holdBack passes everything but the last four bytes of a stream on, with the calls gorilla's
// truncWriter makes: the held bytes that the new ones push out, then the new ones but their last
// four (compression.go).
type holdBack struct {
	next io.Writer
	n    int
	held [4]byte
}

func (h *holdBack) Write(p []byte) (int, error) {
	n := 0
	if h.n < len(h.held) {
		n = copy(h.held[h.n:], p)
		p = p[n:]
		h.n += n
		if len(p) == 0 {
			return n, nil
		}
	}
	m := len(p)
	if m > len(h.held) {
		m = len(h.held)
	}
	if _, err := h.next.Write(h.held[:m]); err != nil {
		return n, err
	}
	copy(h.held[:], h.held[m:])
	copy(h.held[len(h.held)-m:], p[len(p)-m:])
	written, err := h.next.Write(p[:len(p)-m])
	return n + written, err
}

// trimTail passes everything but the last four bytes on with the calls coder's
// trimLastFourBytesWriter makes (compress_notjs.go): each call that reaches the connection is a
// frame of its own.
type trimTail struct {
	next io.Writer
	tail []byte
}

func (t *trimTail) Write(p []byte) (int, error) {
	extra := len(t.tail) + len(p) - 4
	if extra <= 0 {
		t.tail = append(t.tail, p...)
		return len(p), nil
	}
	if extra > len(t.tail) {
		extra = len(t.tail)
	}
	if extra > 0 {
		if _, err := t.next.Write(t.tail[:extra]); err != nil {
			return 0, err
		}
		t.tail = t.tail[:copy(t.tail, t.tail[extra:])]
	}
	if len(p) <= 4 {
		t.tail = append(t.tail, p...)
		return len(p), nil
	}
	t.tail = append(t.tail, p[len(p)-4:]...)
	n, err := t.next.Write(p[:len(p)-4])
	return n + 4, err
}

// frameWriter makes each write a frame (coder's msgWriterState.write -> writeFrame).
type frameWriter struct{ msg *message }

func (f frameWriter) Write(p []byte) (int, error) {
	f.msg.frames = append(f.msg.frames, len(p))
	f.msg.payload = append(f.msg.payload, p...)
	return len(p), nil
}

// window is a sliding window of the last bytes written, as coder's slidingWindow keeps them.
type window struct {
	buf  []byte
	size int
}

func (w *window) open(size int) {
	if w.buf == nil {
		w.buf = make([]byte, 0, size)
		w.size = size
	}
}

func (w *window) close() { w.buf = nil }

func (w *window) write(p []byte) {
	if len(p) >= cap(w.buf) {
		w.buf = w.buf[:cap(w.buf)]
		copy(w.buf, p[len(p)-cap(w.buf):])
		return
	}
	if left := cap(w.buf) - len(w.buf); left < len(p) {
		shift := len(p) - left
		copy(w.buf, w.buf[shift:])
		w.buf = w.buf[:len(w.buf)-shift]
	}
	w.buf = append(w.buf, p...)
}

// Senders ------------------------------------------------------------------------------------

// sender is one connection's compressing side, for one direction.
type sender interface {
	send(p []byte, msg *message) error
}

// gorilla keeps its flate writers in one sync.Pool per level, shared by every connection
// (compression.go flateWriterPools): a connection holds a writer only while writing a message.
var gorillaWriters [12]sync.Pool

type gorillaSender struct {
	level     int
	threshold int
	server    bool
	frames    gorillaFrames
	hold      holdBack
}

func newGorillaSender(job cellJob, server bool) *gorillaSender {
	s := &gorillaSender{level: job.Level, threshold: job.Threshold, server: server}
	s.frames.server = server
	s.frames.buffer = gorillaClientBuffer
	if server {
		s.frames.buffer = gorillaServerBuffer
		if job.Prepared {
			s.frames.buffer = gorillaPreparedBuffer
		}
	}
	s.hold.next = &s.frames
	return s
}

func (s *gorillaSender) send(p []byte, msg *message) error {
	s.frames.msg = msg
	s.frames.buffered = 0
	if len(p) < s.threshold {
		// Compression off for this message (Centrifugo's compression min size toggles
		// EnableWriteCompression): a server writes it as one frame (WriteMessage's fast path),
		// a client through its message writer.
		if s.server {
			msg.frames = append(msg.frames, len(p))
			msg.payload = append(msg.payload, p...)
			return nil
		}
		s.frames.Write(p)
		return s.frames.Close()
	}
	msg.compressed = true
	s.hold.n = 0
	pool := &gorillaWriters[s.level+2]
	writer, _ := pool.Get().(*flate.Writer)
	if writer == nil {
		w, err := flate.NewWriter(&s.hold, s.level)
		if err != nil {
			return err
		}
		writer = w
	} else {
		writer.Reset(&s.hold)
	}
	if _, err := writer.Write(p); err != nil {
		return err
	}
	if err := writer.Flush(); err != nil {
		return err
	}
	pool.Put(writer)
	if s.hold.n != 4 || !bytes.Equal(s.hold.held[:], syncTail) {
		return errors.New("flate stream does not end with 00 00 ff ff")
	}
	return s.frames.Close()
}

type coderSender struct {
	threshold int
	takeover  bool
	dict      window
	trim      trimTail
	out       frameWriter
}

func newCoderSender(job cellJob) *coderSender {
	s := &coderSender{threshold: job.Threshold, takeover: job.Takeover}
	s.trim.next = &s.out
	return s
}

func (s *coderSender) send(p []byte, msg *message) error {
	s.out.msg = msg
	if len(p) < s.threshold {
		msg.frames = append(msg.frames, len(p), 0) // the data, then an empty final frame
		msg.payload = append(msg.payload, p...)
		return nil
	}
	msg.compressed = true
	s.dict.open(coderWriteWindow)
	s.trim.tail = s.trim.tail[:0]
	if err := kflate.StatelessDeflate(&s.trim, p, false, s.dict.buf); err != nil {
		return err
	}
	s.dict.write(p)
	msg.frames = append(msg.frames, 0) // Close: the empty final frame
	if !s.takeover {
		s.dict.close()
	}
	return nil
}

// natsSender follows nats-server's wsCollapsePtoNB for a client that is not a browser: the
// pending bytes are compressed only when more than wsCompressThreshold (the job's threshold is
// that plus one), by a flate.Writer the connection keeps and Resets before each write; Flush,
// the last 4 bytes dropped, one frame.
type natsSender struct {
	level     int
	threshold int
	writer    *flate.Writer
	hold      holdBack
	frame     oneFrame
}

// oneFrame collects a message's bytes as a single frame.
type oneFrame struct {
	msg  *message
	size int
}

func (f *oneFrame) Write(p []byte) (int, error) {
	f.msg.payload = append(f.msg.payload, p...)
	f.size += len(p)
	return len(p), nil
}

func (s *natsSender) send(p []byte, msg *message) error {
	if len(p) < s.threshold {
		msg.frames = append(msg.frames, len(p))
		msg.payload = append(msg.payload, p...)
		return nil
	}
	msg.compressed = true
	s.frame = oneFrame{msg: msg}
	s.hold.n = 0
	s.hold.next = &s.frame
	if s.writer == nil {
		w, err := flate.NewWriter(&s.hold, s.level)
		if err != nil {
			return err
		}
		s.writer = w
	} else {
		s.writer.Reset(&s.hold)
	}
	if _, err := s.writer.Write(p); err != nil {
		return err
	}
	if err := s.writer.Flush(); err != nil {
		return err
	}
	if s.hold.n != 4 || !bytes.Equal(s.hold.held[:], syncTail) {
		return errors.New("flate stream does not end with 00 00 ff ff")
	}
	msg.frames = append(msg.frames, s.frame.size)
	return nil
}

func newSender(job cellJob, server bool) (sender, error) {
	switch job.Library {
	case nats:
		return &natsSender{level: job.Level, threshold: job.Threshold}, nil
	case gorilla:
		return newGorillaSender(job, server), nil
	case coder:
		return newCoderSender(job), nil
	}
	return nil, fmt.Errorf("unknown library %q", job.Library)
}

// Receivers ----------------------------------------------------------------------------------

// receiver is one connection's inflating side, for one direction.
type receiver interface {
	receive(payload []byte, out *bytes.Buffer) error
}

// gorilla's flate readers share one sync.Pool too (compression.go flateReaderPool).
var gorillaReaders sync.Pool

type gorillaReceiver struct {
	source bytes.Reader
	tail   strings.Reader
}

func (r *gorillaReceiver) receive(payload []byte, out *bytes.Buffer) error {
	r.source.Reset(payload)
	r.tail.Reset(gorillaReadTail)
	in := io.MultiReader(&r.source, &r.tail)
	reader, _ := gorillaReaders.Get().(io.ReadCloser)
	if reader == nil {
		reader = flate.NewReader(in)
	} else if err := reader.(flate.Resetter).Reset(in, nil); err != nil {
		return err
	}
	_, err := io.Copy(out, reader)
	gorillaReaders.Put(reader)
	return err
}

type coderReceiver struct {
	takeover bool
	dict     window
	reader   io.Reader
	buffered *bufio.Reader // coder keeps one per connection once a message was compressed
	source   bytes.Reader
	tail     strings.Reader
}

func (r *coderReceiver) receive(payload []byte, out *bytes.Buffer) error {
	if r.takeover {
		r.dict.open(coderReadWindow)
	}
	r.source.Reset(payload)
	r.tail.Reset(string(syncTail))
	var in io.Reader = io.MultiReader(&r.source, &r.tail)
	if r.buffered == nil {
		r.buffered = bufio.NewReader(in) // read.go resetFlate: getBufioReader, 4 KiB
	} else {
		r.buffered.Reset(in)
	}
	in = r.buffered
	if r.reader == nil {
		r.reader = kflate.NewReaderDict(in, r.dict.buf)
	} else if err := r.reader.(kflate.Resetter).Reset(in, r.dict.buf); err != nil {
		return err
	}
	start := out.Len()
	_, err := io.Copy(out, r.reader)
	// The stream ends after a sync flush, not a final block: coder reads io.ErrUnexpectedEOF
	// at the end of a message's frames as its end (read.go).
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	if r.takeover {
		r.dict.write(out.Bytes()[start:])
	}
	return err
}

func newReceiver(job cellJob) receiver {
	if job.Library == coder {
		return &coderReceiver{takeover: job.Takeover}
	}
	return &gorillaReceiver{}
}

// Cells ------------------------------------------------------------------------------------

type streamResult struct {
	Sizes              string `json:"sizes"`  // base64 u32 LE: per message, payload bytes sent
	Frames             string `json:"frames"` // base64 u32 LE: every frame's payload bytes
	CompressedMessages int    `json:"compressed_messages"`
	LastCompressed     bool   `json:"last_compressed"` // coder keeps the last one's reader
}

type cellResult struct {
	ID                int            `json:"id"`
	Streams           []streamResult `json:"streams"`
	Sha256            string         `json:"sha256"`
	CompressSamples   []float64      `json:"compress_samples,omitempty"`
	DecompressSamples []float64      `json:"decompress_samples,omitempty"`
	LoopsCompress     int            `json:"loops_compress,omitempty"`
	LoopsDecompress   int            `json:"loops_decompress,omitempty"`
	Delivery          *deliveryTimes `json:"delivery,omitempty"`
}

// deliveryTimes: seconds per timed stretch, interleaved senders, interleaved receivers, and one
// hot sender over the same messages.
type deliveryTimes struct {
	Compress   []float64 `json:"compress"`
	Decompress []float64 `json:"decompress"`
	Hot        []float64 `json:"hot"`
	// coder and gorilla through their own connections: on - off per stretch of the stretch's
	// messages that the library compresses (the split's compressed ones, where split), each
	// longerBy bytes longer (longerOf).
	Longer []float64 `json:"longer,omitempty"`
	// A threshold library's split (deliveryPlan.Split): on - off per stretch of its compressed
	// messages, and of its raw ones.
	SplitCompressed []float64 `json:"split_compressed,omitempty"`
	SplitRaw        []float64 `json:"split_raw,omitempty"`
	// coder: the bytes its own connection sent one subscriber over the whole broadcast (the
	// primed messages, then every stretch), equal to the modelled frames (checked here).
	SentBytes int64 `json:"sent_bytes,omitempty"`
	// gorilla: a PreparedMessage broadcast through gorilla's own connections, on - off per
	// stretch of the prepared plan, and the bytes one subscriber's connection was sent (equal to
	// the modelled PreparedMessage frames: checked here). Absent from a helper built without
	// gorilla/websocket.
	Prepared          []float64 `json:"prepared,omitempty"`
	PreparedSentBytes int64     `json:"prepared_sent_bytes,omitempty"`
}

func u32s(values []int) string {
	buf := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// sent is one stream as a connection sends it: every message's frames and payload.
type sent struct {
	sizes      []int
	frames     []int
	payloads   [][]byte
	compressed []bool
	count      int
}

func sendStream(job cellJob, direction string, payloads [][]byte) (*sent, error) {
	s, err := newSender(job, direction == "server")
	if err != nil {
		return nil, err
	}
	out := &sent{}
	var msg message
	for _, p := range payloads {
		msg.reset()
		if err := s.send(p, &msg); err != nil {
			return nil, err
		}
		out.sizes = append(out.sizes, len(msg.payload))
		out.frames = append(out.frames, msg.frames...)
		out.payloads = append(out.payloads, append([]byte(nil), msg.payload...))
		out.compressed = append(out.compressed, msg.compressed)
		if msg.compressed {
			out.count++
		}
	}
	return out, nil
}

// namedClient is what a named client sent, one frame per message: compressed when the message
// reaches the client's threshold, else the message itself.
func namedClient(frames [][]byte, payloads [][]byte, threshold int) *sent {
	out := &sent{payloads: frames}
	for i, frame := range frames {
		compressed := len(payloads[i]) >= threshold
		out.sizes = append(out.sizes, len(frame))
		out.frames = append(out.frames, len(frame))
		out.compressed = append(out.compressed, compressed)
		if compressed {
			out.count++
		}
	}
	return out
}

// clientFrames is the job's named client's frames (nil without one).
func clientFrames(job cellJob, streams int) ([][][]byte, error) {
	if job.ClientFrames == "" {
		return nil, nil
	}
	frames, err := readCorpus(job.ClientFrames)
	if err == nil && len(frames) != streams {
		err = fmt.Errorf("%d streams of client frames for %d streams", len(frames), streams)
	}
	return frames, err
}

// check inflates every compressed message as the receiving library does and compares it with
// the original.
func check(job cellJob, stream *sent, payloads [][]byte) error {
	r := newReceiver(job)
	var out bytes.Buffer
	for i, payload := range stream.payloads {
		if !stream.compressed[i] {
			if !bytes.Equal(payload, payloads[i]) {
				return fmt.Errorf("message %d: raw frame differs", i)
			}
			continue
		}
		out.Reset()
		if err := r.receive(payload, &out); err != nil {
			return fmt.Errorf("message %d: %v", i, err)
		}
		if !bytes.Equal(out.Bytes(), payloads[i]) {
			return fmt.Errorf("message %d does not round-trip", i)
		}
	}
	return nil
}

// threadCPU is the CPU time of the calling OS thread (the goroutine is locked to it), from
// clock_gettime(CLOCK_THREAD_CPUTIME_ID): to the nanosecond, where getrusage(RUSAGE_THREAD)
// moves in scheduler ticks (a 300 us busy loop read 0 there).
func threadCPU() float64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID (Linux)
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}

// processCPU is the CPU time of the whole process, to the nanosecond: a broadcast's timing
// counts the garbage collector's work on other threads too, as a server pays it.
func processCPU() float64 {
	var ts syscall.Timespec
	const clockProcessCPUTime = 2 // CLOCK_PROCESS_CPUTIME_ID (Linux)
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}

// samples is wsztune.codecs.base.time_samples: repeat samples in seconds per pass, the first of
// loops passes (judged by the cell's first pass), the later ones of loopsFor(the first sample's
// time per pass), whose passes are warm where the cell's first is not; and the later ones' loops.
func samples(work func() error, repeat, loops int, minSample float64) ([]float64, int, error) {
	out := make([]float64, 0, repeat)
	for i := 0; i < repeat; i++ {
		start := threadCPU()
		for j := 0; j < loops; j++ {
			if err := work(); err != nil {
				return nil, 0, err
			}
		}
		out = append(out, (threadCPU()-start)/float64(loops))
		if i == 0 {
			loops = loopsFor(out[0], minSample)
		}
	}
	return out, loops, nil
}

func loopsFor(once, minSample float64) int {
	if once <= 0 {
		return 1000
	}
	// wsztune.codecs.base.loops_for: the whole number of passes whose time comes nearest.
	loops := int(minSample/once + 0.5) // truncation: the floor of a positive number
	if loops < 1 {
		loops = 1
	}
	return loops
}

func measureCell(job cellJob, directions []string, streams [][][]byte, plan *timingPlan) (*cellResult, error) {
	result := &cellResult{ID: job.ID}
	digest := sha256.New()
	all := make([]*sent, len(streams))
	named, err := clientFrames(job, len(streams))
	if err != nil {
		return nil, err
	}
	// A named client's streams are its own: the server inflates them (checked below, timed)
	// but compresses nothing of theirs.
	ours := func(i int) bool { return named == nil || directions[i] == "server" }
	compressOnce := threadCPU()
	for i, payloads := range streams {
		if !ours(i) {
			all[i] = namedClient(named[i], payloads, job.ClientThreshold)
			continue
		}
		stream, err := sendStream(job, directions[i], payloads)
		if err != nil {
			return nil, err
		}
		all[i] = stream
	}
	compressOnce = threadCPU() - compressOnce
	decompressOnce := threadCPU()
	for i, stream := range all {
		if err := check(job, stream, streams[i]); err != nil {
			return nil, fmt.Errorf("cell %d, stream %d: %v", job.ID, i, err)
		}
	}
	decompressOnce = threadCPU() - decompressOnce
	for _, stream := range all {
		for _, payload := range stream.payloads {
			digest.Write(payload)
		}
		result.Streams = append(result.Streams, streamResult{
			Sizes: u32s(stream.sizes), Frames: u32s(stream.frames), CompressedMessages: stream.count,
			LastCompressed: len(stream.compressed) > 0 && stream.compressed[len(stream.compressed)-1],
		})
	}
	result.Sha256 = hex.EncodeToString(digest.Sum(nil))
	if plan == nil {
		return result, nil
	}
	var msg message
	compressAll := func() error {
		for i, payloads := range streams {
			if !ours(i) {
				continue
			}
			s, err := newSender(job, directions[i] == "server")
			if err != nil {
				return err
			}
			for _, p := range payloads {
				msg.reset()
				if err := s.send(p, &msg); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var out bytes.Buffer
	decompressAll := func() error {
		for _, stream := range all {
			r := newReceiver(job)
			for i, payload := range stream.payloads {
				if !stream.compressed[i] {
					continue
				}
				out.Reset()
				if err := r.receive(payload, &out); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := 1; i < plan.Warmup; i++ {
		if err := compressAll(); err != nil {
			return nil, err
		}
		if err := decompressAll(); err != nil {
			return nil, err
		}
	}
	mark := plan.MinSampleSeconds
	result.CompressSamples, result.LoopsCompress, err = samples(compressAll, plan.Repeat,
		loopsFor(compressOnce, mark), mark)
	if err != nil {
		return nil, err
	}
	result.DecompressSamples, result.LoopsDecompress, err = samples(decompressAll, plan.Repeat,
		loopsFor(decompressOnce, mark), mark)
	if err != nil {
		return nil, err
	}
	if plan.Deliveries != nil {
		if result.Delivery, err = timeDeliveries(job, directions, streams, plan.Deliveries); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// timeDeliveries times a broadcast as a server runs it: every server message (all server
// streams, in order) sent by each of the plan's per-connection senders in turn, then inflated by
// as many receivers in turn. With coder's context takeover every sender is first fed messages
// filling its window twice (untimed), as a subscriber long after it joined (wsztune.fanout
// priming_messages); gorilla keeps nothing between messages.
func timeDeliveries(job cellJob, directions []string, streams [][][]byte, plan *deliveryPlan) (*deliveryTimes, error) {
	var server [][]byte
	for i, payloads := range streams {
		if directions[i] == "server" {
			server = append(server, payloads...)
		}
	}
	if len(server) == 0 {
		return nil, errors.New("no server message to broadcast")
	}
	b := &broadcastRun{job: job, plan: plan, server: server}
	if job.Library == coder && job.Takeover {
		for fed := 0; fed < 2*coderWriteWindow; {
			p := server[len(b.primed)%len(server)]
			b.primed = append(b.primed, p)
			fed += len(p)
		}
	}
	times := &deliveryTimes{}
	wrote, err := b.compress(times)
	if err != nil {
		return nil, err
	}
	if times.Hot, err = b.sendAll(1, plan.HotStretches); err != nil {
		return nil, err
	}
	frames, err := b.frames()
	if err != nil {
		return nil, err
	}
	if wrote != nil {
		if err := wrote.check(modelWire(frames), job.Library+"'s connection"); err != nil {
			return nil, err
		}
		times.SentBytes = wrote.bytes
	}
	if job.Library == gorilla && gorillaBuilt && plan.Prepared != nil {
		if times.Prepared, times.PreparedSentBytes, err = timePrepared(job, plan, b.stretchOf); err != nil {
			return nil, err
		}
	}
	times.Decompress, err = b.decompress(frames)
	if err != nil {
		return nil, err
	}
	return times, nil
}

// broadcastRun is one cell's broadcast timing (timeDeliveries): the server's messages, and the
// ones that first fill each subscriber's window (coder with context takeover).
type broadcastRun struct {
	job    cellJob
	plan   *deliveryPlan
	server [][]byte
	primed [][]byte
}

// stretchOf is the messages of stretch n of stretches (indices modulo the server's messages).
func (b *broadcastRun) stretchOf(stretches [][2]int, n int) [][]byte {
	var out [][]byte
	for i := stretches[n][0]; i < stretches[n][1]; i++ {
		out = append(out, b.server[i%len(b.server)])
	}
	return out
}

// compress times the plan's stretches into times.Compress: through the library's own
// connections (coder's Conn.Write, gorilla's WriteMessage, each subscriber on its goroutine:
// coderDeliveries, gorillaDeliveries), returning what one subscriber's connection sent; else
// (NATS, or gorilla from a helper built without gorilla/websocket) the senders back to back,
// returning nil.
func (b *broadcastRun) compress(times *deliveryTimes) (*wire, error) {
	series := b.series()
	var sent wire
	var err error
	switch {
	case b.job.Library == coder:
		sent, err = coderDeliveries(b.job, b.plan, b.primed, series, times)
	case b.job.Library == gorilla && gorillaBuilt:
		sent, err = gorillaDeliveries(b.job, b.plan.Compressors, series, times)
	default:
		times.Compress, err = b.sendAll(b.plan.Compressors, b.plan.Stretches)
		return nil, err
	}
	return &sent, err
}

// broadcastSeries is what a broadcast through a library's own connections is timed over: count
// stretches (the first warmup untimed), and where the plan splits the cell's threshold, the
// stretches' compressed and raw messages apart (nil otherwise).
type broadcastSeries struct {
	count, warmup   int
	stretch         func(int) [][]byte
	compressed, raw func(int) [][]byte
}

// series is the cell's broadcastSeries.
func (b *broadcastRun) series() broadcastSeries {
	s := broadcastSeries{count: len(b.plan.Stretches), warmup: b.plan.Warmup,
		stretch: func(n int) [][]byte { return b.stretchOf(b.plan.Stretches, n) }}
	if split := b.plan.Split[strconv.Itoa(b.job.Threshold)]; split != nil {
		s.compressed, s.raw = b.indexed(split.Compressed), b.indexed(split.Raw)
	}
	return s
}

// indexed is stretch n of series: the server messages at its indices.
func (b *broadcastRun) indexed(series [][]int) func(int) [][]byte {
	return func(n int) [][]byte {
		out := make([][]byte, len(series[n]))
		for i, index := range series[n] {
			out[i] = b.server[index]
		}
		return out
	}
}

// sendAll times stretches sent by count of the model's senders in turn, each first fed the
// primed messages (untimed): seconds per stretch after the warm-up ones.
func (b *broadcastRun) sendAll(count int, stretches [][2]int) ([]float64, error) {
	var msg message
	senders := make([]sender, count)
	for k := range senders {
		s, err := newSender(b.job, true)
		if err != nil {
			return nil, err
		}
		senders[k] = s
		for _, p := range b.primed {
			msg.reset()
			if err := s.send(p, &msg); err != nil {
				return nil, err
			}
		}
	}
	var out []float64
	for n := range stretches {
		payloads := b.stretchOf(stretches, n)
		start := processCPU()
		for _, p := range payloads {
			for _, s := range senders {
				msg.reset()
				if err := s.send(p, &msg); err != nil {
					return nil, err
				}
			}
		}
		if n >= b.plan.Warmup {
			out = append(out, processCPU()-start)
		}
	}
	return out, nil
}

// frames is one subscriber's messages as the model frames them (every subscriber's are the
// same): the primed ones, then each stretch's.
func (b *broadcastRun) frames() ([][]*message, error) {
	one, err := newSender(b.job, true)
	if err != nil {
		return nil, err
	}
	frames := make([][]*message, len(b.plan.Stretches)+1)
	for n := range frames {
		payloads := b.primed
		if n > 0 {
			payloads = b.stretchOf(b.plan.Stretches, n-1)
		}
		for _, p := range payloads {
			m := &message{}
			if err := one.send(p, m); err != nil {
				return nil, err
			}
			frames[n] = append(frames[n], m)
		}
	}
	return frames, nil
}

// decompress times frames inflated by as many receivers as the plan's compressors, in turn:
// seconds per stretch after the primed messages and the warm-up stretches.
func (b *broadcastRun) decompress(frames [][]*message) ([]float64, error) {
	receivers := make([]receiver, b.plan.Compressors)
	for k := range receivers {
		receivers[k] = newReceiver(b.job)
	}
	var out bytes.Buffer
	var seconds []float64
	for n, messages := range frames {
		start := processCPU()
		for _, m := range messages {
			if !m.compressed {
				continue
			}
			for _, r := range receivers {
				out.Reset()
				if err := r.receive(m.payload, &out); err != nil {
					return nil, err
				}
			}
		}
		if n > b.plan.Warmup {
			seconds = append(seconds, processCPU()-start)
		}
	}
	return seconds, nil
}

// coder deliveries -------------------------------------------------------------------------

// A coder server pays far more per compressed delivery than StatelessDeflate into memory (bench/
// broadcast.py measured 1.6 to 2.0 times): Conn.Write sends every write of the compressor as a
// frame of its own plus an empty final one, each through writeFrame's lock and two hand-offs to
// the connection's timeoutLoop goroutine (write.go, conn_notjs.go), and each subscriber's
// goroutine grows its stack for the 256 KiB token array StatelessDeflate keeps on it. So a
// coder broadcast is timed through coder itself: real connections whose bytes go nowhere.

// wire is the bytes a connection sent: how many, and, where summed, their CRC-32, so that a
// check against the model's frames holds byte for byte.
type wire struct {
	bytes int64
	crc   uint32
	sum   bool // only a fleet's first connection, whose bytes are checked
}

func (w *wire) add(p []byte) {
	w.bytes += int64(len(p))
	if w.sum {
		w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	}
}

// check fails, naming what, where a connection sent other bytes than the model frames.
func (w wire) check(modelled wire, what string) error {
	if w != modelled {
		return fmt.Errorf("%s sent %d bytes (CRC-32 %08x) where the model frames %d (%08x)", what, w.bytes, w.crc, modelled.bytes, modelled.crc)
	}
	return nil
}

// modelWire is what messages' frames put on a server's connection, headers included (RFC 6455
// 5.2: FIN on a message's last frame, RSV1 on a compressed message's first, a text opcode then
// continuations; 2 bytes, plus 2 past 125 payload bytes or 8 past 65,535; a server does not
// mask), as the helper's connections write text messages.
func modelWire(messages [][]*message) wire {
	out := wire{sum: true}
	for _, stretch := range messages {
		for _, m := range stretch {
			payload := m.payload
			for i, size := range m.frames {
				var header [10]byte
				if i == len(m.frames)-1 {
					header[0] |= 0x80
				}
				if i == 0 {
					header[0] |= 0x1 // text
					if m.compressed {
						header[0] |= 0x40
					}
				}
				n := 2
				switch {
				case size > 65535:
					header[1] = 127
					binary.BigEndian.PutUint64(header[2:], uint64(size))
					n = 10
				case size > 125:
					header[1] = 126
					binary.BigEndian.PutUint16(header[2:], uint16(size))
					n = 4
				default:
					header[1] = byte(size)
				}
				out.add(header[:n])
				out.add(payload[:size])
				payload = payload[size:]
			}
		}
	}
	return out
}

// countingConn is the network side of such a connection, counting what it is sent (sent):
// without socket, writes cost nothing and reads wait until it is closed (where CloseRead's
// reader waits on a quiet socket); with socket set, both go to a real loopback TCP socket,
// whose other end a drain process reads (drainedSockets).
type countingConn struct {
	closed chan struct{}
	once   sync.Once
	sent   wire // bytes written, read once the writer has finished
	socket net.Conn
}

func (c *countingConn) Read(p []byte) (int, error) {
	if c.socket != nil {
		return c.socket.Read(p)
	}
	<-c.closed
	return 0, io.EOF
}

func (c *countingConn) Write(p []byte) (int, error) {
	n := len(p)
	var err error
	if c.socket != nil {
		n, err = c.socket.Write(p)
	}
	c.sent.add(p[:n]) // what reached the socket: a failed write's rest did not
	return n, err
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if c.socket != nil {
			c.socket.Close()
		}
	})
	return nil
}

func (c *countingConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *countingConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *countingConn) SetDeadline(time.Time) error      { return nil }
func (c *countingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

// drainProcess is the process reading a fleet's sockets: ended is closed once it has exited,
// with err its exit status.
type drainProcess struct {
	ended chan struct{}
	err   error
}

// failed is a subscriber's write error, said as the drain's ending where the drain has ended: a
// write fails then because nothing reads the other end (or the library saw its reader end), and
// the kernel closes a process's sockets as it exits, just before its parent can reap it, hence
// the short wait.
func (d *drainProcess) failed(err error) error {
	if d == nil || err == nil {
		return err
	}
	select {
	case <-d.ended:
		return fmt.Errorf("drain process ended (%v): %w", d.err, err)
	case <-time.After(time.Second):
		return err
	}
}

// drainedSockets is count loopback TCP connections whose other ends a drain process (this
// helper, "drain ADDR COUNT") holds and reads until they close: a subscriber's bytes go through
// the kernel as a server's do, and the client's reading (recv) is another process's CPU, as the
// clients of bench/broadcast.py are (loopback's receive processing may still be charged to the
// sender, in its softirq). A drain that ends before it has connected them all stops the
// accepting at once, with its exit status.
func drainedSockets(count int) ([]net.Conn, *drainProcess, error) {
	if err := descriptorsFor(count); err != nil {
		return nil, nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer listener.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "drain", listener.Addr().String(), strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	drain := &drainProcess{ended: make(chan struct{})}
	accepted := make(chan struct{})
	defer close(accepted)
	go func() {
		drain.err = cmd.Wait()
		close(drain.ended)
	}()
	go func() {
		select {
		case <-drain.ended:
			listener.Close() // no more connections will come
		case <-accepted:
		}
	}()
	listener.(*net.TCPListener).SetDeadline(time.Now().Add(60 * time.Second))
	conns := make([]net.Conn, 0, count)
	for len(conns) < count {
		c, err := listener.Accept()
		if err != nil {
			for _, open := range conns {
				open.Close()
			}
			cmd.Process.Kill()
			<-drain.ended
			return nil, nil, fmt.Errorf("drain process (%v): %d of %d connections: %v", drain.err, len(conns), count, err)
		}
		conns = append(conns, c)
	}
	return conns, drain, nil
}

// spareDescriptors are the files a helper keeps open besides its sockets (the listener, the
// drain's pipes, Go's own), with room to spare. wsztune checks the hard limit before any helper
// starts with more to spare (wsztune.programs.descriptors SPARE_DESCRIPTORS, for its own files
// too); this check counts what the helper has open.
const spareDescriptors = 64

// descriptorsFor fails, saying what to raise, where count more sockets (and the drain
// process's count) would pass the open-file limit; Go raised the soft limit to the hard one at
// start (os/rlimit.go), so a failure needs the hard limit raised.
func descriptorsFor(count int) error {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return nil // unknown: opening the sockets says what failed
	}
	open := 0
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = len(entries)
	}
	need := uint64(open + count + spareDescriptors)
	if need > limit.Cur {
		return fmt.Errorf("timing the broadcast needs %d more loopback sockets, %d open files in all, where this process may open %d: raise the limit (ulimit -n %d) or lower --fanout", count, need, limit.Cur, need)
	}
	return nil
}

// drainPoll is how often the drain process reads its sockets. It reads them as raw sockets
// outside Go's netpoller, every drainPoll until each would block, so that no reader waits on
// a socket and no send wakes one: a server's clients are on other machines. A reader waiting
// here is woken by every send, and on a VM waking an idle CPU for it costs the sender more
// with compression on, whose sends come further apart, than off (docs/broadcast.md, "Readers
// that wait on their sockets"). Between two reads a socket holds one broadcast's message.
const drainPoll = 20 * time.Millisecond

// drain is the drain process: count connections to addr, each read and discarded every
// drainPoll until the helper closes it.
func drain(addr string, count int) error {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	fds := make([]int, 0, count)
	for i := 0; i < count; i++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	if len(fds) == 0 {
		return nil
	}
	buffer := make([]byte, 1<<16)
	var now syscall.Timespec // ppoll's timeout: 0, no wait (poll(2) itself is not on arm64)
	polled := make([]pollFd, len(fds))
	for i, fd := range fds {
		polled[i] = pollFd{fd: int32(fd), events: pollIn}
	}
	for open := len(polled); open > 0; {
		time.Sleep(drainPoll)
		// Which sockets hold data (or were closed), asked without waiting: a timeout of 0.
		_, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&polled[0])), uintptr(len(polled)), uintptr(unsafe.Pointer(&now)), 0, 0, 0)
		if errno != 0 && errno != syscall.EINTR {
			return errno
		}
		for i := range polled {
			if polled[i].fd < 0 || polled[i].revents == 0 {
				continue
			}
			if !drained(int(polled[i].fd), buffer) {
				syscall.Close(int(polled[i].fd))
				polled[i].fd = -1 // poll skips a negative descriptor
				open--
			}
		}
	}
	return nil
}

// pollFd is struct pollfd (ppoll(2)), and pollIn its POLLIN.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

// drained reads fd until it would block: true, or false once the helper has closed it.
func drained(fd int, buffer []byte) bool {
	for {
		n, err := syscall.Read(fd, buffer)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return true
		case err != nil || n == 0:
			return false
		}
	}
}

// hijackable is the http.ResponseWriter coder.Accept upgrades: it hands over a countingConn
// with the 4 KiB bufio.Writer net/http's Hijack gives (net/http server.go hijackLocked).
type hijackable struct {
	header http.Header
	conn   *countingConn
}

func (h *hijackable) Header() http.Header         { return h.header }
func (h *hijackable) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijackable) WriteHeader(int)             {}
func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// fleet is count server connections of one library, each written by a goroutine of its own
// from a queue, as a server broadcasts (a writer goroutine per subscriber, as in coder's and
// gorilla's chat examples and bench/broadcast_go).
type fleet struct {
	queues  []chan delivery
	conns   []*countingConn
	drain   *drainProcess // the process reading the connections' sockets, if real
	pending sync.WaitGroup
	failed  error
	failMu  sync.Mutex
}

// delivery is what a subscriber's writer is handed: the message and, for gorilla's
// PreparedMessage, the message prepared once for every subscriber.
type delivery struct {
	payload  []byte
	prepared interface{}
	// gorilla: the cell's level and threshold (its connections are shared by the cells).
	level, threshold int
}

// add starts the writer goroutine of one more subscriber, whose connection writes to conn.
func (f *fleet) add(conn *countingConn, write func(delivery) error) {
	queue := make(chan delivery, 1)
	f.queues, f.conns = append(f.queues, queue), append(f.conns, conn)
	go func() {
		for d := range queue {
			if err := write(d); err != nil {
				err = f.drain.failed(err)
				f.failMu.Lock()
				f.failed = err
				f.failMu.Unlock()
			}
			f.pending.Done()
		}
	}()
}

// broadcast hands d to every subscriber's writer and waits until all have written it.
func (f *fleet) broadcast(d delivery) error { return f.broadcastTo(len(f.queues), d) }

// broadcastTo hands d to the first count subscribers' writers and waits until all have
// written it.
func (f *fleet) broadcastTo(count int, d delivery) error {
	f.pending.Add(count)
	for _, queue := range f.queues[:count] {
		queue <- d
	}
	f.pending.Wait()
	f.failMu.Lock()
	defer f.failMu.Unlock()
	return f.failed
}

func (f *fleet) close() {
	for i, queue := range f.queues {
		close(queue)
		f.conns[i].Close()
	}
	if f.drain != nil {
		<-f.drain.ended // it ends once every socket is closed
	}
}

// upgradeRequest is a client's opening handshake, offering a plain permessage-deflate when
// compress is set.
func upgradeRequest(compress bool) (*http.Request, error) {
	request, err := http.NewRequest("GET", "http://127.0.0.1/", nil)
	if err != nil {
		return nil, err
	}
	for key, value := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
		request.Header.Set(key, value)
	}
	if compress {
		request.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
	}
	return request, nil
}

// newFleet is count server connections, each opened by open (the library's upgrade of a
// request offering permessage-deflate when compress is set), which returns how that
// subscriber's writer writes a delivery. With sockets set, each connection writes to a loopback
// TCP socket that a drain process reads (drainedSockets), as a server's writes go through the
// kernel to its clients; otherwise its writes go nowhere and cost nothing.
func newFleet(count int, compress, sockets bool, open func(*hijackable, *http.Request) (func(delivery) error, error)) (*fleet, error) {
	request, err := upgradeRequest(compress)
	if err != nil {
		return nil, err
	}
	f := &fleet{}
	real := make([]net.Conn, count)
	if sockets {
		if real, f.drain, err = drainedSockets(count); err != nil {
			return nil, err
		}
	}
	for i := 0; i < count; i++ {
		conn := &countingConn{closed: make(chan struct{}), socket: real[i], sent: wire{sum: i == 0}}
		write, err := open(&hijackable{header: http.Header{}, conn: conn}, request)
		if err != nil {
			conn.Close()
			for _, s := range real[i+1:] {
				if s != nil {
					s.Close()
				}
			}
			f.close()
			return nil, err
		}
		f.add(conn, write)
	}
	return f, nil
}

// fleetPair is a broadcast timing's two fleets: built with compression on, and off.
func fleetPair(build func(compress bool) (*fleet, error)) (*fleet, *fleet, error) {
	on, err := build(true)
	if err != nil {
		return nil, nil, err
	}
	off, err := build(false)
	if err != nil {
		on.close()
		return nil, nil, err
	}
	return on, off, nil
}

// newCoderFleet is count coder server connections at the cell's setting (or with compression
// off).
func newCoderFleet(job cellJob, count int, compress bool) (*fleet, error) {
	mode := coderws.CompressionDisabled
	if compress && job.Takeover {
		mode = coderws.CompressionContextTakeover
	} else if compress {
		mode = coderws.CompressionNoContextTakeover
	}
	options := &coderws.AcceptOptions{CompressionMode: mode, CompressionThreshold: job.Threshold}
	return newFleet(count, compress, true, func(w *hijackable, r *http.Request) (func(delivery) error, error) {
		c, err := coderws.Accept(w, r, options)
		if err != nil {
			return nil, err
		}
		ctx := c.CloseRead(context.Background())
		return func(d delivery) error { return c.Write(ctx, coderws.MessageText, d.payload) }, nil
	})
}

// fleetDeliveries times each stretch of a broadcast through the on fleet (compression at the
// cell's setting) and the off fleet (compression off) in turn, turn messages at a time (0: a
// whole stretch), on first on even turns of even stretches and odd ones of odd stretches so
// that drift cancels, and keeps on - off per stretch: what compressing costs the server, as
// bench/broadcast.py measures a real one. send broadcasts one message to a fleet and returns
// once every subscriber wrote it. Process CPU, so that the libraries' other goroutines, the
// scheduler and the garbage collector count as they do in a server.
func fleetDeliveries(on, off *fleet, stretches, warmup int, stretch func(int) [][]byte, send func(*fleet, []byte) error, turn int) ([]float64, error) {
	fleets := [2]*fleet{on, off}
	var out []float64
	for n := 0; n < stretches; n++ {
		payloads := stretch(n)
		size := turn
		if size <= 0 || size > len(payloads) {
			size = len(payloads)
		}
		var seconds [2]float64 // on, off
		for first, number := 0, 0; first < len(payloads); first, number = first+size, number+1 {
			last := first + size
			if last > len(payloads) {
				last = len(payloads)
			}
			for order := 0; order < 2; order++ {
				which := (order + n + number) % 2
				start := processCPU()
				for _, p := range payloads[first:last] {
					if err := send(fleets[which], p); err != nil {
						return nil, err
					}
				}
				seconds[which] += processCPU() - start
			}
		}
		if n >= warmup {
			out = append(out, seconds[0]-seconds[1])
		}
	}
	return out, nil
}

// coderDeliveries times a broadcast through plan.Compressors coder connections at the cell's
// setting and as many with compression off (fleetTimes: its longer messages too, and its split),
// each subscriber's message written by its own goroutine with Conn.Write, into times. Also
// returns the bytes one subscriber's connection was sent, for the caller to hold against the
// modelled frames.
func coderDeliveries(job cellJob, plan *deliveryPlan, primed [][]byte, series broadcastSeries, times *deliveryTimes) (wire, error) {
	on, off, err := fleetPair(func(compress bool) (*fleet, error) {
		return newCoderFleet(job, plan.Compressors, compress)
	})
	if err != nil {
		return wire{}, err
	}
	defer on.close()
	defer off.close()
	send := func(f *fleet, p []byte) error { return f.broadcast(delivery{payload: p}) }
	for _, p := range primed {
		if err := send(on, p); err != nil {
			return wire{}, err
		}
	}
	return fleetTimes(times, on, off, series, send, job.Threshold)
}

// fleetTimes times the stretches through the on and off fleets (fleetDeliveries) into
// times.Compress; where the series are split, its compressed and raw messages apart; then the
// compressed messages (the split's, else the stretches') longerOf. Returns what on's first
// connection was sent for the stretches (not the other series, which the model does not frame).
func fleetTimes(times *deliveryTimes, on, off *fleet, series broadcastSeries, send func(*fleet, []byte) error, threshold int) (wire, error) {
	timed := func(stretch func(int) [][]byte, turn int) ([]float64, error) {
		return fleetDeliveries(on, off, series.count, series.warmup, stretch, send, turn)
	}
	var err error
	if times.Compress, err = timed(series.stretch, 0); err != nil {
		return wire{}, err
	}
	sent := on.conns[0].sent
	compressed := series.stretch
	if series.compressed != nil {
		compressed = series.compressed
		if times.SplitCompressed, err = timed(series.compressed, 0); err != nil {
			return wire{}, err
		}
		// Raw messages message by message: their on - off, a tenth of a delivery, drowned in
		// this machine's moves from one second to the next (coder on the chat records read
		// 0.58 to 2.53 us per raw delivery over six runs, stretch by stretch, and 1.02 to 1.32
		// over five, message by message). Neither fleet compresses them, so neither leaves the
		// other compressor state to miss in cache, which message by message did to the
		// compressed series (PreparedMessage on the game records read 1.40 against 2.15 ms
		// per 1,000).
		if times.SplitRaw, err = timed(series.raw, 1); err != nil {
			return wire{}, err
		}
	}
	times.Longer, err = timed(longerOf(compressed, threshold), 0)
	return sent, err
}

// longerOf is each stretch's messages that the library compresses (threshold bytes or more,
// at least 1), each lengthened by exactly longerBy bytes of the stretch's messages that follow
// it (round again if need be). Timed through the same fleets after the stretches, the
// difference from the stretches is what a compressed delivery costs per byte, over a span of
// sizes wide enough to read it (wsztune.fanout.byte_cost); the stretches' own messages span
// too few where they sit at the threshold (the market records': 128 to 150 B).
func longerOf(stretch func(int) [][]byte, threshold int) func(int) [][]byte {
	return func(n int) [][]byte {
		payloads := stretch(n)
		var out [][]byte
		for i, p := range payloads {
			if len(p) < threshold || len(p) == 0 {
				continue
			}
			q := append([]byte{}, p...)
			for next := i + 1; len(q) < len(p)+longerBy; next++ {
				q = append(q, payloads[next%len(payloads)]...)
			}
			out = append(out, q[:len(p)+longerBy])
		}
		return out
	}
}

// longerBy is how many bytes longerOf adds to each message (wsztune.fanout.LONGER_BY).
const longerBy = 1024

// gorilla's PreparedMessage ------------------------------------------------------------------

// A PreparedMessage server pays more per compression than one hot flate.Writer does (bench/
// broadcast.py: 1.56 to 2.30 times the hot compressor's model): NewPreparedMessage makes the
// plain frame on a fake Conn, and the first subscriber's WritePreparedMessage makes the
// compressed one on another (a fresh 4 KiB write buffer, a bytes.Buffer grown to the frame, a
// pooled flate.Writer), while the other subscribers' writers wait on its sync.Once; all of it
// garbage for the collector (prepared.go). So it is timed through gorilla itself
// (preparedDeliveries, in gorilla_prepared.go: built only where gorilla/websocket is found),
// messages back to back, as a server at load sends them (docs/broadcast.md).

// timePrepared times the plan's PreparedMessage broadcast through gorilla's own connections and
// checks that one subscriber's connection was sent the modelled PreparedMessage frames, byte for
// byte (only where gorillaBuilt).
func timePrepared(job cellJob, plan *deliveryPlan, stretchOf func([][2]int, int) [][]byte) ([]float64, int64, error) {
	stretches := plan.Prepared.Stretches
	stretch := func(n int) [][]byte { return stretchOf(stretches, n) }
	samples, wrote, err := preparedDeliveries(job, plan.Prepared.Connections, len(stretches), plan.Warmup, stretch)
	if err != nil {
		return nil, 0, err
	}
	prepared := job
	prepared.Prepared = true
	one, err := newSender(prepared, true)
	if err != nil {
		return nil, 0, err
	}
	var sent []*message
	for n := range stretches {
		for _, p := range stretch(n) {
			m := &message{}
			if err := one.send(p, m); err != nil {
				return nil, 0, err
			}
			sent = append(sent, m)
		}
	}
	if err := wrote.check(modelWire([][]*message{sent}), "gorilla's connection, PreparedMessage frames,"); err != nil {
		return nil, 0, err
	}
	return samples, wrote.bytes, nil
}

func runCells(path string) error {
	var job cellsJob
	if err := readJSON(path, &job); err != nil {
		return err
	}
	streams, err := readCorpus(job.Corpus)
	if err != nil {
		return err
	}
	if len(streams) != len(job.Directions) {
		return fmt.Errorf("%d streams but %d directions", len(streams), len(job.Directions))
	}
	// Timing samples are CPU time of this thread: keep the measuring goroutine on it.
	runtime.LockOSThread()
	defer closeGorillaFleets()
	encoder := json.NewEncoder(os.Stdout)
	for _, cell := range job.Cells {
		result, err := measureCell(cell, job.Directions, streams, job.Timing)
		if err != nil {
			return err
		}
		if err := encoder.Encode(result); err != nil {
			return err
		}
	}
	return nil
}

// Memory -----------------------------------------------------------------------------------

type memoryJob struct {
	Corpus             string  `json:"corpus"`
	CompressorStream   int     `json:"compressor_stream"`
	DecompressorStream int     `json:"decompressor_stream"`
	Cell               cellJob `json:"cell"`
	Connections        int     `json:"connections"`
}

type memoryResult struct {
	// Live heap (runtime.MemStats.HeapAlloc after a collection) per connection, idle: what a
	// connection keeps between messages.
	CompressorIdle   int64 `json:"compressor_idle"`
	DecompressorIdle int64 `json:"decompressor_idle"`
	// coder 1.8.7 returns its flate reader to a pool after a compressed message but its
	// limitReader still points at it until the next message: a connection whose last message
	// received was compressed keeps a reader (read.go resetFlate, Read).
	DecompressorReader int64 `json:"decompressor_reader"`
	// Per write (read) in progress: what one message being compressed (inflated) holds.
	CompressorWriting   int64 `json:"compressor_writing"`
	DecompressorReading int64 `json:"decompressor_reading"`
	// Resident memory per connection over the same steps, beside the heap figures.
	RSSIdle    int64 `json:"rss_idle"`
	RSSWriting int64 `json:"rss_writing"`
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC() // the second collection frees what the first one's sync.Pool cleanup released
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.HeapAlloc)
}

func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// firstMessages returns the payloads that leave a connection's state as it will stay: up to
// the first one the library compresses (or all of them when none is).
func firstMessages(stream [][]byte, threshold int) [][]byte {
	for i, p := range stream {
		if len(p) >= threshold {
			return stream[:i+1]
		}
	}
	return stream
}

// perConnection is (after - before) / n, never below zero (noise around a cost of nothing).
func perConnection(before, after int64, n int) int64 {
	if after <= before {
		return 0
	}
	return (after - before) / int64(n)
}

// pin holds onto what a connection keeps, so that the collector cannot free it while measured.
var pin []interface{}

func runMemory(path string) error {
	var job memoryJob
	if err := readJSON(path, &job); err != nil {
		return err
	}
	streams, err := readCorpus(job.Corpus)
	if err != nil {
		return err
	}
	n := job.Connections
	cell := job.Cell
	debug.SetGCPercent(-1) // collections only when measuring
	sending := firstMessages(streams[job.CompressorStream], cell.Threshold)
	incoming, err := sendStream(cell, "client", firstMessages(streams[job.DecompressorStream], cell.Threshold))
	if err != nil {
		return err
	}
	// Warm-up: pools, the flate tables Go builds once per process.
	warm, _ := newSender(cell, true)
	var msg message
	for _, p := range sending {
		msg.reset()
		if err := warm.send(p, &msg); err != nil {
			return err
		}
	}
	result := memoryResult{}

	// Idle: n connections that each sent and received their first messages.
	heap0, rss0 := liveHeap(), rss()
	senders := make([]sender, n)
	for i := range senders {
		senders[i], _ = newSender(cell, true)
		for _, p := range sending {
			msg.reset()
			if err := senders[i].send(p, &msg); err != nil {
				return err
			}
		}
	}
	heap1 := liveHeap()
	receivers := make([]receiver, n)
	var out bytes.Buffer
	for i := range receivers {
		receivers[i] = newReceiver(cell)
		for j, payload := range incoming.payloads {
			if !incoming.compressed[j] {
				continue
			}
			out.Reset()
			if err := receivers[i].receive(payload, &out); err != nil {
				return err
			}
		}
		idleReceiver(receivers[i])
	}
	heap2, rss2 := liveHeap(), rss()
	result.CompressorIdle = perConnection(heap0, heap1, n)
	result.DecompressorIdle = perConnection(heap1, heap2, n)
	result.RSSIdle = perConnection(rss0, rss2, n)
	pin = append(pin, senders, receivers)
	if cell.Library == coder {
		keeping := make([]receiver, n)
		for i := range keeping {
			keeping[i] = newReceiver(cell)
			for j, payload := range incoming.payloads {
				if !incoming.compressed[j] {
					continue
				}
				out.Reset()
				if err := keeping[i].receive(payload, &out); err != nil {
					return err
				}
			}
		}
		heapKept := liveHeap()
		result.DecompressorReader = perConnection(heap2, heapKept, n) - result.DecompressorIdle
		if result.DecompressorReader < 0 {
			result.DecompressorReader = 0
		}
		pin = append(pin, keeping)
	}

	// Writing: n messages in the middle of being compressed at once (the writer between its
	// Write and its Flush), as n connections writing concurrently hold them.
	heap3, rss3 := liveHeap(), rss()
	writers := make([]interface{}, n)
	var sink bytes.Buffer
	for i := range writers {
		writers[i], err = openWriter(cell, &sink, sending[len(sending)-1])
		if err != nil {
			return err
		}
		sink.Reset()
	}
	heap4, rss4 := liveHeap(), rss()
	result.CompressorWriting = perConnection(heap3, heap4, n)
	result.RSSWriting = perConnection(rss3, rss4, n)
	pin = append(pin, writers)

	// Reading: n inflaters in the middle of a message.
	heap5 := liveHeap()
	readers := make([]io.Reader, n)
	if len(incoming.payloads) > 0 {
		last := incoming.payloads[len(incoming.payloads)-1]
		for i := range readers {
			readers[i] = openReader(cell, last)
		}
	}
	heap6 := liveHeap()
	result.DecompressorReading = perConnection(heap5, heap6, n)
	pin = append(pin, readers)
	return json.NewEncoder(os.Stdout).Encode(result)
}

// idleReceiver leaves a receiver as the library leaves it between messages: its flate reader
// back in a pool (gorilla, coder), only coder's window kept with context takeover.
func idleReceiver(r receiver) {
	if r, ok := r.(*coderReceiver); ok {
		r.reader = nil
	}
}

// openWriter starts a message as the library does and stops before its end: the state one
// write in progress holds.
func openWriter(cell cellJob, sink io.Writer, p []byte) (interface{}, error) {
	if cell.Library == gorilla || cell.Library == nats {
		w, err := flate.NewWriter(sink, cell.Level)
		if err != nil {
			return nil, err
		}
		_, err = w.Write(p)
		return w, err
	}
	// coder's StatelessDeflate keeps nothing between calls: a write in progress holds the
	// window it compresses against and the block it builds, both freed when it returns.
	dict := make([]byte, 0, coderWriteWindow)
	return dict, kflate.StatelessDeflate(sink, p, false, dict)
}

func openReader(cell cellJob, payload []byte) io.Reader {
	in := io.MultiReader(bytes.NewReader(payload), strings.NewReader(string(syncTail)))
	var r io.Reader
	if cell.Library == gorilla || cell.Library == nats {
		r = flate.NewReader(in)
	} else {
		r = kflate.NewReader(in)
	}
	var one [1]byte
	r.Read(one[:])
	return r
}

// Main -------------------------------------------------------------------------------------

func readJSON(path string, into interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsztune-go cells|memory JOB.json | version | drain ADDR N")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "version":
		err = json.NewEncoder(os.Stdout).Encode(map[string]string{
			"go":      runtime.Version(),
			"gorilla": "1.5.0",
			"coder":   "1.8.7",
			"nats":    "2.9.10",
		})
	case "cells":
		err = runCells(os.Args[2])
	case "memory":
		err = runMemory(os.Args[2])
	case "drain":
		count := 0
		if len(os.Args) == 4 {
			count, err = strconv.Atoi(os.Args[3])
		}
		if err == nil && count > 0 {
			err = drain(os.Args[2], count)
		} else {
			err = fmt.Errorf("usage: wsztune-go drain ADDR N")
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
