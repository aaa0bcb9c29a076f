// Command broadcast_go is bench/broadcast.py's Go side: a gorilla/websocket or coder/websocket
// server that broadcasts corpus messages at a fixed rate to every connection, and the clients
// that hold those connections (for every server of the bench, Python and Node ones included).
//
//	broadcast_go serve -lib gorilla|coder -compress -prepared -level N -takeover -threshold T -rate R -fanout K -corpus F
//	    listens on 127.0.0.1 and broadcasts R messages per second, each to every connection or,
//	    with -fanout K, to one group of K (the connections in the order they came, in groups of
//	    K, the groups in turn; connections past the last whole group get nothing). It prints
//	    "port N", then every 0.5 s one JSON line
//	    {"connections": c, "deliveries": d, "bytes": b, "compressible_bytes": t,
//	    "compressible_deliveries": n}: the messages written so far, all connections, their
//	    payload bytes, and the payload bytes and the count of those of T bytes or more, at least
//	    1 (the library's threshold: what it compresses; counted, not applied).
//	broadcast_go clients -port P -n N -compress -poll D
//	    opens N connections (offering a plain "permessage-deflate" when -compress), reads and
//	    discards what arrives (no inflating: only the server is measured), prints "open N" once
//	    all are open, and holds them until stdin ends. With -poll, raw sockets outside Go's
//	    netpoller, each read every D until it would block: no reader waits on a socket, so no
//	    send wakes one, as with clients on other machines.
//
// Built by bench/broadcast.py against Debian's packages (GOPATH=/usr/share/gocode,
// GO111MODULE=off). The server writes each subscriber from its own goroutine, through a
// buffered channel, as gorilla's chat example and Centrifugo do.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	gorilla "github.com/gorilla/websocket"
	coder "nhooyr.io/websocket"
)

// readMessages reads the bench's corpus file: per message a u32 length and the payload.
func readMessages(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for offset := 0; offset < len(data); {
		size := int(binary.LittleEndian.Uint32(data[offset:]))
		offset += 4
		out = append(out, data[offset:offset+size])
		offset += size
	}
	return out, nil
}

// item is what a subscriber's writer receives: a payload, or a gorilla PreparedMessage. A
// payload that is not UTF-8 (the game corpus's binary messages) goes out as a binary message,
// as the corpus recorded it, never as text a client would have to reject.
type item struct {
	payload  []byte
	binary   bool
	prepared *gorilla.PreparedMessage
}

// gorillaKind and coderKind are the message's type in each library's terms.
func (it item) gorillaKind() int {
	if it.binary {
		return gorilla.BinaryMessage
	}
	return gorilla.TextMessage
}

func (it item) coderKind() coder.MessageType {
	if it.binary {
		return coder.MessageBinary
	}
	return coder.MessageText
}

type hub struct {
	mu sync.Mutex
	// the subscribers' queues, in the order they came: a group of a -fanout broadcast is a run
	// of them, the same connections every time its turn comes
	queues     []chan item
	fanout     int // subscribers per broadcast; 0: all of them
	deliveries int64
	bytes      int64 // payload bytes of the deliveries
	// payload bytes and count of the deliveries of threshold bytes or more (at least 1): what
	// the library compresses
	compressible           int64
	compressibleDeliveries int64
	threshold              int
}

// delivered counts one message written to one subscriber.
func (h *hub) delivered(it item) {
	atomic.AddInt64(&h.deliveries, 1)
	atomic.AddInt64(&h.bytes, int64(len(it.payload)))
	if len(it.payload) >= h.threshold && len(it.payload) > 0 {
		atomic.AddInt64(&h.compressible, int64(len(it.payload)))
		atomic.AddInt64(&h.compressibleDeliveries, 1)
	}
}

func (h *hub) add(q chan item) {
	h.mu.Lock()
	h.queues = append(h.queues, q)
	h.mu.Unlock()
}

func (h *hub) remove(q chan item) {
	h.mu.Lock()
	for i, other := range h.queues {
		if other == q {
			h.queues = append(h.queues[:i], h.queues[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queues)
}

// broadcast sends the n-th broadcast's item to its subscribers: all of them, or the group of
// -fanout whose turn it is.
func (h *hub) broadcast(n int, it item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subscribers := h.queues
	if h.fanout > 0 && len(h.queues) >= h.fanout {
		group := n % (len(h.queues) / h.fanout)
		subscribers = h.queues[group*h.fanout : (group+1)*h.fanout]
	}
	for _, q := range subscribers {
		select {
		case q <- it:
		default: // a subscriber 256 messages behind misses this one, as in gorilla's chat hub
		}
	}
}

func serve(lib string, compress, prepared bool, level int, takeover bool, threshold int, rate, phase float64, fanout int, corpus string) error {
	messages, err := readMessages(corpus)
	if err != nil {
		return err
	}
	h := &hub{threshold: threshold, fanout: fanout}
	upgrader := gorilla.Upgrader{EnableCompression: compress, WriteBufferSize: 4096}
	mode := coder.CompressionDisabled
	if compress {
		mode = coder.CompressionNoContextTakeover
		if takeover {
			mode = coder.CompressionContextTakeover
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := make(chan item, 256)
		if lib == "gorilla" {
			c, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			if compress {
				c.EnableWriteCompression(true)
				if err := c.SetCompressionLevel(level); err != nil {
					return
				}
			}
			go func() { // control frames; the clients send nothing else
				for {
					if _, _, err := c.NextReader(); err != nil {
						return
					}
				}
			}()
			h.add(q)
			defer h.remove(q)
			for it := range q {
				if it.prepared != nil {
					err = c.WritePreparedMessage(it.prepared)
				} else {
					err = c.WriteMessage(it.gorillaKind(), it.payload)
				}
				if err != nil {
					return
				}
				h.delivered(it)
			}
			return
		}
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		ctx := c.CloseRead(context.Background())
		h.add(q)
		defer h.remove(q)
		for it := range q {
			if err := c.Write(ctx, it.coderKind(), it.payload); err != nil {
				return
			}
			h.delivered(it)
		}
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("port %d\n", listener.Addr().(*net.TCPAddr).Port)
	go http.Serve(listener, handler)
	// Each message's type, found once: checked per broadcast, the check cost the server CPU
	// in both windows, noise around the on - off difference the bench measures.
	binaries := make([]bool, len(messages))
	for i, p := range messages {
		binaries[i] = !utf8.Valid(p)
	}
	go func() {
		interval := time.Duration(float64(time.Second) / rate)
		// The first broadcast at phase x interval past a whole interval of the wall clock:
		// two servers measured side by side (on and off) given phases 0 and 0.5 take turns
		// instead of broadcasting at once.
		time.Sleep(time.Until(time.Now().Truncate(interval).Add(time.Duration((1 + phase) * float64(interval)))))
		start := time.Now()
		ticker := time.NewTicker(interval)
		for n := 0; ; n++ {
			// Every broadcast due by now, not one per tick: a Go program that sleeps wakes
			// about once a millisecond at best (go1.19's poller waits in whole milliseconds),
			// so a ticker faster than that drops ticks (PreparedMessage at 2,000/s made about
			// 1,300 a second).
			if n >= int(time.Since(start)/interval) {
				<-ticker.C
			}
			i := n % len(messages)
			p := messages[i]
			it := item{payload: p, binary: binaries[i]}
			if prepared {
				pm, err := gorilla.NewPreparedMessage(it.gorillaKind(), p)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				it.prepared = pm
			}
			h.broadcast(n, it)
		}
	}()
	encoder := json.NewEncoder(os.Stdout)
	for range time.Tick(500 * time.Millisecond) {
		encoder.Encode(map[string]int64{
			"connections": int64(h.count()), "deliveries": atomic.LoadInt64(&h.deliveries),
			"bytes": atomic.LoadInt64(&h.bytes), "compressible_bytes": atomic.LoadInt64(&h.compressible),
			"compressible_deliveries": atomic.LoadInt64(&h.compressibleDeliveries),
		})
	}
	return nil
}

// handshakeRequest is a client's opening handshake, offering a plain "permessage-deflate"
// when compress.
func handshakeRequest(port int, compress bool) string {
	extension := ""
	if compress {
		extension = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	}
	return fmt.Sprintf("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Version: 13\r\n%s\r\n", port, extension)
}

// clients opens n raw WebSocket connections and drains them.
func clients(port, n int, compress bool, poll time.Duration) error {
	if poll > 0 {
		return pollingClients(port, n, compress, poll)
	}
	request := handshakeRequest(port, compress)
	var conns []net.Conn
	for i := 0; i < n; i++ {
		var c net.Conn
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(c, request); err != nil {
			return err
		}
		reader := bufio.NewReader(c)
		status, err := reader.ReadString('\n')
		if err != nil || !strings.Contains(status, " 101 ") {
			return fmt.Errorf("connection %d: handshake refused: %q %v", i, status, err)
		}
		for {
			line, err := reader.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "\r\n" {
				break
			}
		}
		conns = append(conns, c)
		go io.Copy(io.Discard, reader)
	}
	fmt.Printf("open %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// pollingClients holds n connections as raw sockets outside Go's netpoller and reads each one
// every poll, until it would block: no reader ever waits on a socket, so a server's send never
// wakes one, as with clients on other machines.
func pollingClients(port, n int, compress bool, poll time.Duration) error {
	request := []byte(handshakeRequest(port, compress))
	buffer := make([]byte, 1<<16)
	var fds []int
	for i := 0; i < n; i++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		address := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		if err := syscall.Connect(fd, address); err != nil {
			return err
		}
		if _, err := syscall.Write(fd, request); err != nil {
			return err
		}
		var head []byte
		for !strings.Contains(string(head), "\r\n\r\n") {
			got, err := syscall.Read(fd, buffer)
			if err != nil || got <= 0 {
				return fmt.Errorf("connection %d: handshake: %v", i, err)
			}
			head = append(head, buffer[:got]...)
		}
		if !strings.Contains(string(head), " 101 ") {
			return fmt.Errorf("connection %d: handshake refused: %q", i, head)
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	fmt.Printf("open %d\n", len(fds))
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	for {
		select {
		case <-done:
			return nil
		case <-time.After(poll):
		}
		for _, fd := range fds {
			for {
				got, err := syscall.Read(fd, buffer)
				if got <= 0 || err != nil {
					break
				}
			}
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: broadcast_go serve|clients [flags]")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	lib := flags.String("lib", "gorilla", "gorilla or coder")
	compress := flags.Bool("compress", false, "permessage-deflate")
	prepared := flags.Bool("prepared", false, "gorilla: broadcast PreparedMessages")
	level := flags.Int("level", 1, "gorilla's compression level")
	takeover := flags.Bool("takeover", false, "coder: context takeover")
	threshold := flags.Int("threshold", 0, "the library's threshold, for compressible_bytes")
	rate := flags.Float64("rate", 10, "broadcasts per second")
	phase := flags.Float64("phase", 0, "broadcast at this share of an interval past whole intervals of the clock")
	fanout := flags.Int("fanout", 0, "subscribers per broadcast, groups of the connections in turn (0: all)")
	corpus := flags.String("corpus", "", "messages file")
	port := flags.Int("port", 0, "clients: the server's port")
	n := flags.Int("n", 1, "clients: connections")
	poll := flags.Duration("poll", 0, "clients: read raw sockets every poll instead of waiting on them")
	flags.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(*lib, *compress, *prepared, *level, *takeover, *threshold, *rate, *phase, *fanout, *corpus)
	case "clients":
		err = clients(*port, *n, *compress, *poll)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
