// Command fleet_coder is bench/fleet.py's coder/websocket (nhooyr.io/websocket 1.8.7) server:
// it serves a records corpus to every connection (connection i gets corpus connection i mod
// their number's server messages), holds the connections open, and prints its port.
//
//	fleet_coder CORPUS SETTING    SETTING: off, or takeover (CompressionContextTakeover with the
//	                              library's default threshold)
//
// On stdin it takes one command, a line with "gc": collections now (runtime.GC, 2 to 12, until
// goroutine stacks stop shrinking; collectUntilStacksShrunk), standing in
// for the ones the runtime forces when none ran for two minutes (forcegcperiod,
// runtime/proc.go), so that bench/fleet.py can measure the settled state without waiting minutes
// per wave (wsztune/live/fleet.py settled_rss); it answers {"gc": NumGC}.
//
// Built by bench/fleet.py against the libraries in GOPATH (Debian: /usr/share/gocode).
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	coder "nhooyr.io/websocket"
)

type record struct {
	Connection string  `json:"connection"`
	Direction  string  `json:"direction"`
	Text       *string `json:"text"`
	Base64     *string `json:"base64"`
}

func scripts(path string) [][][]byte {
	file, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	defer file.Close()
	order := []string{}
	byConnection := map[string][][]byte{}
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		line := scanner.Bytes()
		if !strings.HasPrefix(string(line), `{"connection"`) {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			panic(err)
		}
		if _, seen := byConnection[r.Connection]; !seen {
			order = append(order, r.Connection)
			byConnection[r.Connection] = [][]byte{}
		}
		if r.Direction != "server" {
			continue
		}
		var payload []byte
		if r.Text != nil {
			payload = []byte(*r.Text)
		} else {
			payload, _ = base64.StdEncoding.DecodeString(*r.Base64)
		}
		byConnection[r.Connection] = append(byConnection[r.Connection], payload)
	}
	plan := make([][][]byte, len(order))
	for i, name := range order {
		plan[i] = byConnection[name]
	}
	return plan
}

func main() {
	plan := scripts(os.Args[1])
	mode := coder.CompressionDisabled
	if os.Args[2] == "takeover" {
		mode = coder.CompressionContextTakeover
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		index, _ := strconv.Atoi(strings.Trim(r.URL.Path, "/"))
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		ctx := context.Background()
		for _, payload := range plan[index%len(plan)] {
			if err := c.Write(ctx, coder.MessageBinary, payload); err != nil {
				return
			}
		}
		// Hold the connection: read until the client goes (it sends nothing).
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
	fmt.Printf("{\"port\": %d}\n", listener.Addr().(*net.TCPAddr).Port)
	go collectOnRequest()
	_ = http.Serve(listener, handler)
}

// collectOnRequest runs collections (collectUntilStacksShrunk) for every "gc" line on stdin and exits with stdin's EOF
// (bench/fleet.py holds stdin open for the server's life).
func collectOnRequest() {
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "gc") {
			fmt.Printf("{\"gc\": %d}\n", collectUntilStacksShrunk())
		}
	}
	os.Exit(0)
}

// collectUntilStacksShrunk runs collections until goroutine stacks stop shrinking (at most 12,
// at least two), then waits for the scavenger: what an idle server's periodic collections do
// over its idle minutes. Each halves a stack using under a quarter of it (shrinkstack,
// runtime/stack.go); the second also empties sync.Pool's victim cache (sync/pool.go). It
// returns the collections run so far.
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
