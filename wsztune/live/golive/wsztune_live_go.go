// Command wsztune-live-go runs real gorilla/websocket and coder/websocket (nhooyr.io/websocket)
// servers and clients on 127.0.0.1 and reports what went over the wire, read below the
// libraries on the TCP connection itself: every data frame's payload size per stream, whether
// each message was compressed, and a digest of the payload bytes.
//
//	wsztune-live-go replay JOB.json   one server and its clients in this process, one connection
//	                                  per corpus connection: the frames (tests/codecs/test_go.py)
//	wsztune-live-go serve JOB.json    a server only: prints its port, serves the live
//	                                  connections, holds them open, and prints its Go heap and
//	                                  RSS (one JSON line) before and after each one's replay
//	wsztune-live-go clients JOB.json  the clients of serve, in another process: opens each
//	                                  connection on a line of stdin, replays, counts bytes on the
//	                                  wire (one JSON line), holds the connections until stdin ends
//
// wsztune builds it on first use against the libraries in GOPATH (Debian: /usr/share/gocode,
// GO111MODULE=off).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	gorilla "github.com/gorilla/websocket"
	coder "nhooyr.io/websocket"
)

type job struct {
	Library     string   `json:"library"`
	Level       int      `json:"level"`
	Takeover    bool     `json:"context_takeover"`
	Threshold   int      `json:"threshold"`
	Corpus      string   `json:"corpus"`
	Directions  []string `json:"directions"`
	Connections []int    `json:"connections"` // per stream: its connection's number
	Live        int      `json:"live"`        // serve, clients: live connections
	Compression bool     `json:"compression"` // serve, clients: negotiate permessage-deflate
	Port        int      `json:"port"`        // clients: the server's port
	Prepared    bool     `json:"prepared"`    // replay, gorilla: the server writes PreparedMessages
	Start       int      `json:"start"`       // fleet-clients: the first live connection's index
	Count       int      `json:"count"`       // fleet-clients: how many connections this wave opens
}

type streamReport struct {
	Frames     []int  `json:"frames"`
	Compressed []bool `json:"compressed"`
}

type report struct {
	Streams []streamReport `json:"streams"`
	Sha256  string         `json:"sha256"`
}

func readCorpus(path string) ([][][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var streams [][][]byte
	for offset := 0; offset < len(data); {
		count := int(binary.LittleEndian.Uint32(data[offset:]))
		offset += 4
		var stream [][]byte
		for i := 0; i < count; i++ {
			size := int(binary.LittleEndian.Uint32(data[offset:]))
			offset += 4
			stream = append(stream, data[offset:offset+size])
			offset += size
		}
		streams = append(streams, stream)
	}
	return streams, nil
}

// recorder keeps every byte a client connection writes and reads.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	written bytes.Buffer
	read    bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.read.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.written.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

type frame struct {
	fin, rsv1 bool
	opcode    byte
	payload   []byte
}

// parseFrames reads RFC 6455 frames after the HTTP head, unmasking client frames.
func parseFrames(raw []byte) ([]frame, error) {
	head := bytes.Index(raw, []byte("\r\n\r\n"))
	if head < 0 {
		return nil, errors.New("no HTTP head")
	}
	raw = raw[head+4:]
	var frames []frame
	for len(raw) > 0 {
		if len(raw) < 2 {
			return nil, errors.New("truncated frame")
		}
		f := frame{fin: raw[0]&0x80 != 0, rsv1: raw[0]&0x40 != 0, opcode: raw[0] & 0x0f}
		masked := raw[1]&0x80 != 0
		length := uint64(raw[1] & 0x7f)
		raw = raw[2:]
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(raw))
			raw = raw[2:]
		case 127:
			length = binary.BigEndian.Uint64(raw)
			raw = raw[8:]
		}
		var key []byte
		if masked {
			key = raw[:4]
			raw = raw[4:]
		}
		if uint64(len(raw)) < length {
			return nil, errors.New("truncated payload")
		}
		f.payload = append([]byte(nil), raw[:length]...)
		for i := range f.payload {
			if masked {
				f.payload[i] ^= key[i%4]
			}
		}
		raw = raw[length:]
		frames = append(frames, f)
	}
	return frames, nil
}

// messagesOf groups data frames into messages: per message its frames' sizes, whether the
// first frame had RSV1, and its payload bytes.
func messagesOf(frames []frame, into *streamReport, digest *bytes.Buffer) {
	for _, f := range frames {
		if f.opcode >= 8 {
			continue // control frames (close) are no part of the corpus
		}
		if f.opcode != 0 {
			into.Compressed = append(into.Compressed, f.rsv1)
		}
		into.Frames = append(into.Frames, len(f.payload))
		digest.Write(f.payload)
	}
}

// connection replays one connection's streams: the client sends its messages, then the server
// sends its own, each side reading what the other sends. streams: the job's stream indexes of
// its server and client sides (-1: that side sends nothing).
type connection struct {
	server, client [][]byte
	streams        [2]int
}

func coderMode(j job) coder.CompressionMode {
	if j.Takeover {
		return coder.CompressionContextTakeover
	}
	return coder.CompressionNoContextTakeover
}

// served is what the server side of one replay kept, and how it ended.
type served struct {
	held interface{}
	err  error
}

// run replays every corpus connection in turn, in this process, compression negotiated: its
// server side as serve runs it (serveOne), its client side as clients does (dialAndReplay); and
// reports the frames each stream's sender put on the wire, read by the client's recorder.
func run(j job) (*report, error) {
	conns, listener, err := listen(j)
	if err != nil {
		return nil, err
	}
	defer listener.Close()
	url := "ws://" + listener.Addr().String() + "/"
	if j.Library != "gorilla" && j.Library != "coder" {
		return nil, fmt.Errorf("unknown library %q", j.Library)
	}
	j.Compression = true
	scripts, done := make(chan connection, 1), make(chan served, 1)
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held, err := serveOne(j, w, r, <-scripts)
		done <- served{held, err}
		<-r.Context().Done() // keep the handler, and what it holds, until the process ends
	}))
	out := &report{Streams: make([]streamReport, len(j.Connections))}
	payloads := make([]bytes.Buffer, len(j.Connections))
	for number, conn := range conns {
		scripts <- conn
		rec, client, err := dialAndReplay(j, url, conn)
		if err == nil {
			server := <-done
			err = server.err
			if c, ok := client.(*gorilla.Conn); ok && err == nil {
				// coder's connections stay open: its close handshake would wait for the peer.
				c.Close()
				server.held.(*gorilla.Conn).Close()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("connection %d: %v", number, err)
		}
		sentFrames, receivedFrames, err := takeFrames(rec)
		if err != nil {
			return nil, err
		}
		if i := conn.streams[0]; i >= 0 {
			messagesOf(receivedFrames, &out.Streams[i], &payloads[i])
		}
		if i := conn.streams[1]; i >= 0 {
			messagesOf(sentFrames, &out.Streams[i], &payloads[i])
		}
	}
	digest := sha256.New()
	for i := range payloads {
		digest.Write(payloads[i].Bytes())
	}
	out.Sha256 = hex.EncodeToString(digest.Sum(nil))
	return out, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wsztune-live-go replay|serve|clients|fleet-serve|fleet-clients JOB.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err == nil {
		var j job
		if err = json.Unmarshal(data, &j); err == nil {
			switch os.Args[1] {
			case "replay":
				var out *report
				if out, err = run(j); err == nil {
					err = json.NewEncoder(os.Stdout).Encode(out)
				}
			case "serve":
				err = serve(j)
			case "clients":
				err = clients(j)
			case "fleet-serve":
				err = fleetServe(j)
			case "fleet-clients":
				err = fleetClients(j)
			default:
				err = fmt.Errorf("unknown command %q", os.Args[1])
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Live: a server process and a clients process ---------------------------------------------

// plan is the job's corpus connections, in order of first appearance: live connection i replays
// corpus connection i modulo their number.
func plan(j job) ([]connection, error) {
	streams, err := readCorpus(j.Corpus)
	if err != nil {
		return nil, err
	}
	var order []int
	byConn := map[int]*connection{}
	for i, number := range j.Connections {
		c, ok := byConn[number]
		if !ok {
			c = &connection{streams: [2]int{-1, -1}}
			byConn[number] = c
			order = append(order, number)
		}
		if j.Directions[i] == "server" {
			c.server, c.streams[0] = streams[i], i
		} else {
			c.client, c.streams[1] = streams[i], i
		}
	}
	out := make([]connection, len(order))
	for i, number := range order {
		out[i] = *byConn[number]
	}
	return out, nil
}

// listen is what every server mode starts with: the job's plan, and a listener on a free port
// of the loopback interface.
func listen(j job) ([]connection, net.Listener, error) {
	conns, err := plan(j)
	if err != nil {
		return nil, nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	return conns, listener, err
}

type sample struct {
	Heap int64 `json:"heap"`
	RSS  int64 `json:"rss"`
}

func measure() sample {
	runtime.GC()
	runtime.GC() // the second frees what the first moved out of sync.Pools
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	var rss int64
	if data, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident int64
		fmt.Sscan(string(data), &size, &resident)
		rss = resident * int64(os.Getpagesize())
	}
	return sample{Heap: int64(stats.HeapAlloc), RSS: rss}
}

// serve answers j.Live connections, each replaying its corpus connection, and holds them open;
// after each replay it samples its own heap and RSS. Compression as j.Compression says.
func serve(j job) error {
	conns, listener, err := listen(j)
	if err != nil {
		return err
	}
	done := make(chan error)
	var mu sync.Mutex
	var kept []interface{}
	next := 0
	hold := make(chan struct{}) // never closed: connections stay open until the process exits
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conn := conns[next%len(conns)]
		next++
		mu.Unlock()
		held, err := serveOne(j, w, r, conn)
		mu.Lock()
		// Keep the connection reachable: an unreferenced Conn is collected (coder even closes
		// it from a finalizer), and what it holds must count.
		kept = append(kept, held)
		mu.Unlock()
		done <- err
		<-hold
	})
	go http.Serve(listener, handler)
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	// One line per sample: the clients wait for it before opening the next connection, so that
	// no other connection is writing (holding a pooled flate writer) while this one is measured.
	encoder := json.NewEncoder(os.Stdout)
	if err := encoder.Encode(measure()); err != nil {
		return err
	}
	for i := 0; i < j.Live; i++ {
		if err := <-done; err != nil {
			return fmt.Errorf("live connection %d: %v", i, err)
		}
		if err := encoder.Encode(measure()); err != nil {
			return err
		}
	}
	return nil
}

func serveOne(j job, w http.ResponseWriter, r *http.Request, conn connection) (interface{}, error) {
	ctx := context.Background()
	if j.Library == "gorilla" {
		upgrader := gorilla.Upgrader{EnableCompression: j.Compression}
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		if j.Compression {
			c.SetCompressionLevel(j.Level)
		}
		for range conn.client {
			if _, _, err := c.ReadMessage(); err != nil {
				return c, err
			}
		}
		for _, p := range conn.server {
			c.EnableWriteCompression(j.Compression && len(p) >= j.Threshold)
			if err := writeGorilla(j, c, p); err != nil {
				return c, err
			}
		}
		return c, nil
	}
	mode := coderMode(j)
	if !j.Compression {
		mode = coder.CompressionDisabled
	}
	c, err := coder.Accept(w, r, &coder.AcceptOptions{
		CompressionMode: mode, CompressionThreshold: j.Threshold,
	})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 30)
	for range conn.client {
		if _, _, err := c.Read(ctx); err != nil {
			return c, err
		}
	}
	for _, p := range conn.server {
		if err := c.Write(ctx, coder.MessageBinary, p); err != nil {
			return c, err
		}
	}
	return c, nil
}

// writeGorilla sends one server message; with j.Prepared (replay), as a broadcast as gorilla's
// docs advise: compressed once, the same frames to every subscriber (prepared.go).
func writeGorilla(j job, c *gorilla.Conn, p []byte) error {
	if !j.Prepared {
		return c.WriteMessage(gorilla.BinaryMessage, p)
	}
	pm, err := gorilla.NewPreparedMessage(gorilla.BinaryMessage, p)
	if err != nil {
		return err
	}
	return c.WritePreparedMessage(pm)
}

// clients opens j.Live connections to j.Port one after the other, replays each, and reports
// the payload bytes seen on the wire each way; then holds the connections until stdin closes.
func clients(j job) error {
	conns, err := plan(j)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("ws://127.0.0.1:%d/", j.Port)
	var sent, received wire
	var keep []interface{}
	input := bufio.NewReader(os.Stdin)
	for i := 0; i < j.Live; i++ {
		// Go on only once the server has measured the previous connection (a line on stdin).
		if _, err := input.ReadString('\n'); err != nil {
			return fmt.Errorf("live connection %d: no go-ahead: %v", i, err)
		}
		conn := conns[i%len(conns)]
		rec, held, err := dialAndReplay(j, url, conn)
		if err != nil {
			return fmt.Errorf("live connection %d: %v", i, err)
		}
		keep = append(keep, held)
		out, in, err := countFrames(rec)
		if err != nil {
			return fmt.Errorf("live connection %d: %v", i, err)
		}
		sent, received = sent.plus(out), received.plus(in)
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]int{
		"client_bytes": sent.bytes, "server_bytes": received.bytes,
		"client_frames": sent.frames, "server_frames": received.frames,
		"client_compressed": sent.compressed, "server_compressed": received.compressed,
	}); err != nil {
		return err
	}
	io.Copy(io.Discard, input) // hold every connection until told to go
	_ = keep
	return nil
}

func dialAndReplay(j job, url string, conn connection) (*recorder, interface{}, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rec *recorder
	if j.Library == "gorilla" {
		dialer := gorilla.Dialer{
			EnableCompression: j.Compression,
			NetDial: func(network, addr string) (net.Conn, error) {
				c, err := net.Dial(network, addr)
				rec = &recorder{Conn: c}
				return rec, err
			},
		}
		c, _, err := dialer.Dial(url, nil)
		if err != nil {
			return nil, nil, err
		}
		if j.Compression {
			c.SetCompressionLevel(j.Level)
		}
		for _, p := range conn.client {
			c.EnableWriteCompression(j.Compression && len(p) >= j.Threshold)
			if err := c.WriteMessage(gorilla.BinaryMessage, p); err != nil {
				return nil, nil, err
			}
		}
		for range conn.server {
			if _, _, err := c.ReadMessage(); err != nil {
				return nil, nil, err
			}
		}
		return rec, c, nil
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			rec = &recorder{Conn: c}
			return rec, err
		},
	}
	mode := coderMode(j)
	if !j.Compression {
		mode = coder.CompressionDisabled
	}
	c, _, err := coder.Dial(ctx, url, &coder.DialOptions{
		HTTPClient: &http.Client{Transport: transport}, CompressionMode: mode,
		CompressionThreshold: j.Threshold,
	})
	if err != nil {
		return nil, nil, err
	}
	c.SetReadLimit(1 << 30)
	for _, p := range conn.client {
		if err := c.Write(ctx, coder.MessageBinary, p); err != nil {
			return nil, nil, err
		}
	}
	for range conn.server {
		if _, _, err := c.Read(ctx); err != nil {
			return nil, nil, err
		}
	}
	return rec, c, nil
}

// A fleet (wsztune/live/fleet.py) ---------------------------------------------------------------

// fleetServe serves every connection its corpus connection (live connection i, from the URL
// path: corpus connection i modulo their number) and holds it until the client goes, its memory
// then free for the next one (a churn round). It prints {"port": P}, and answers each line on
// stdin with {"sent": null, "received": null}: the clients count the bytes on the wire.
func fleetServe(j job) error {
	conns, listener, err := listen(j)
	if err != nil {
		return err
	}
	failures := make(chan error, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var index int
		fmt.Sscanf(r.URL.Path, "/%d", &index)
		held, err := serveOne(j, w, r, conns[index%len(conns)])
		if err != nil {
			select {
			case failures <- fmt.Errorf("live connection %d: %v", index, err):
			default:
			}
			return
		}
		holdUntilClosed(held)
	})
	go http.Serve(listener, handler)
	encoder := json.NewEncoder(os.Stdout)
	if err := encoder.Encode(map[string]int{"port": listener.Addr().(*net.TCPAddr).Port}); err != nil {
		return err
	}
	input := bufio.NewReader(os.Stdin)
	for {
		line, err := input.ReadString('\n')
		if err != nil {
			return nil // wsztune closed the pipe: stop
		}
		select {
		case err := <-failures:
			return err
		default:
		}
		if strings.Contains(line, `"gc"`) {
			err = encoder.Encode(map[string]uint32{"gc": collectUntilStacksShrunk()})
		} else {
			err = encoder.Encode(map[string]interface{}{"sent": nil, "received": nil})
		}
		if err != nil {
			return err
		}
	}
}

// collectUntilStacksShrunk runs collections until goroutine stacks stop shrinking (at most 12,
// at least two), then waits for the scavenger: what an idle server's periodic collections do
// over its idle minutes (the runtime forces one every two, forcegcperiod in runtime/proc.go).
// Each halves a stack using under a quarter of it (shrinkstack, runtime/stack.go): coder's
// writers, grown to 512 KiB by StatelessDeflate, come back to what they use; the second also
// frees what sync.Pool's victim cache held (sync/pool.go). wsztune then reads RSS
// (wsztune/live/fleet.py settled_rss).
func collectUntilStacksShrunk() uint32 {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	for i := 0; i < 12; i++ {
		before := stats.StackInuse
		runtime.GC()
		runtime.ReadMemStats(&stats)
		if i >= 1 && stats.StackInuse >= before {
			break
		}
	}
	// The background scavenger returns free pages, at about 1% of a CPU, until the heap
	// retains at most 10% over what was in use at the last collection (gcPaceScavenger,
	// retainExtraPercent in runtime/mgcscavenge.go): wait for that, at most a minute (a loaded
	// machine slows it), with a page per span class of slack.
	// When its goal, fixed at the last collection, leaves more free, it stops earlier: so wait
	// also until it has returned nothing for two seconds.
	released, still := stats.HeapReleased, 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && still < 20; {
		free := stats.HeapIdle - stats.HeapReleased
		if free <= stats.HeapInuse/10+256<<10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
		runtime.ReadMemStats(&stats)
		if stats.HeapReleased > released {
			released, still = stats.HeapReleased, 0
		} else {
			still++
		}
	}
	return stats.NumGC
}

// holdUntilClosed reads from a replayed connection until the client closes it (or dies).
func holdUntilClosed(held interface{}) {
	switch c := held.(type) {
	case *gorilla.Conn:
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				c.Close()
				return
			}
		}
	case *coder.Conn:
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				c.Close(coder.StatusNormalClosure, "")
				return
			}
		}
	}
}

// fleetClients opens connections j.Start .. j.Start+j.Count-1 (at most 64 handshakes at a
// time), replays each, prints {"done", "sent", "received"} (data frames' payload bytes seen on
// the wire) and holds every connection until stdin closes.
func fleetClients(j job) error {
	conns, err := plan(j)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var sent, received wire
	var keep []interface{}
	var failure error
	gate := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := j.Start; i < j.Start+j.Count; i++ {
		wg.Add(1)
		gate <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-gate }()
			url := fmt.Sprintf("ws://127.0.0.1:%d/%d", j.Port, i)
			rec, held, err := dialAndReplay(j, url, conns[i%len(conns)])
			var out, in wire
			if err == nil {
				out, in, err = countFrames(rec)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failure == nil {
				failure = fmt.Errorf("live connection %d: %v", i, err)
			}
			sent, received = sent.plus(out), received.plus(in)
			keep = append(keep, held)
		}(i)
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]int{
		"done": len(keep), "sent": sent.bytes, "received": received.bytes,
	}); err != nil {
		return err
	}
	io.Copy(io.Discard, os.Stdin) // hold every connection until told to go
	return nil
}

// wire is what data frames carried one way over the connections counted: payload bytes, frames,
// and frames with RSV1 (a compressed message's first frame).
type wire struct {
	bytes, frames, compressed int
}

func tally(frames []frame) wire {
	var w wire
	for _, f := range frames {
		if f.opcode >= 8 {
			continue // control frames (close, ping) are no part of the corpus
		}
		w.bytes += len(f.payload)
		w.frames++
		if f.rsv1 {
			w.compressed++
		}
	}
	return w
}

func (w wire) plus(other wire) wire {
	return wire{w.bytes + other.bytes, w.frames + other.frames, w.compressed + other.compressed}
}

// takeFrames parses the frames a recorder saw each way (sent, received), then forgets the
// bytes (a fleet holds thousands of connections; the frames keep what they point into).
func takeFrames(rec *recorder) (sent, received []frame, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if sent, err = parseFrames(rec.written.Bytes()); err == nil {
		received, err = parseFrames(rec.read.Bytes())
	}
	rec.written, rec.read = bytes.Buffer{}, bytes.Buffer{}
	return sent, received, err
}

// countFrames tallies the data frames a recorder saw each way (sent, received).
func countFrames(rec *recorder) (wire, wire, error) {
	out, in, err := takeFrames(rec)
	if err != nil {
		return wire{}, wire{}, fmt.Errorf("cannot read the frames: %v", err)
	}
	return tally(out), tally(in), nil
}
