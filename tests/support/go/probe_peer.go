// Command probe_peer: real gorilla/websocket and coder/websocket (nhooyr.io/websocket) peers for
// tests/live/test_probe_stacks.py.
//
//	probe_peer serve LIBRARY on|off|takeover
//	                                  a server on 127.0.0.1: prints its port, greets each
//	                                  connection with MESSAGE (stdin's first line), then echoes;
//	                                  exits when stdin closes (takeover: coder with context
//	                                  takeover; on: coder without, gorilla's only mode)
//	probe_peer dial LIBRARY URL       the library's client with compression on, as a user dials:
//	                                  prints "ok EXTENSIONS" or "error: ..." (one line)
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	gorilla "github.com/gorilla/websocket"
	coder "nhooyr.io/websocket"
)

func serve(library string, compress, takeover bool, greeting []byte) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		if library == "gorilla" {
			upgrader := gorilla.Upgrader{EnableCompression: compress}
			conn, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			if conn.WriteMessage(gorilla.TextMessage, greeting) != nil {
				return
			}
			for {
				kind, data, err := conn.ReadMessage()
				if err != nil || conn.WriteMessage(kind, data) != nil {
					return
				}
			}
		}
		mode := coder.CompressionDisabled
		if takeover {
			mode = coder.CompressionContextTakeover
		} else if compress {
			mode = coder.CompressionNoContextTakeover
		}
		conn, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		defer conn.Close(coder.StatusNormalClosure, "")
		ctx := context.Background()
		if conn.Write(ctx, coder.MessageText, greeting) != nil {
			return
		}
		for {
			kind, data, err := conn.Read(ctx)
			if err != nil || conn.Write(ctx, kind, data) != nil {
				return
			}
		}
	}
	go http.Serve(listener, http.HandlerFunc(handler))
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	// Stop when the test closes stdin (or dies).
	for {
		buffer := make([]byte, 1)
		if _, err := os.Stdin.Read(buffer); err != nil {
			os.Exit(0)
		}
	}
}

func dial(library string, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if library == "gorilla" {
		dialer := gorilla.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
		conn, response, err := dialer.DialContext(ctx, url, nil)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		defer conn.Close()
		fmt.Println("ok", response.Header.Get("Sec-WebSocket-Extensions"))
		return
	}
	conn, response, err := coder.Dial(ctx, url, nil)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer conn.Close(coder.StatusNormalClosure, "")
	fmt.Println("ok", response.Header.Get("Sec-WebSocket-Extensions"))
}

func main() {
	if len(os.Args) != 4 {
		fmt.Println("usage: probe_peer serve LIBRARY on|off|takeover | dial LIBRARY URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		greeting, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		mode := os.Args[3]
		serve(os.Args[2], mode != "off", mode == "takeover", []byte(greeting[:len(greeting)-1]))
	case "dial":
		dial(os.Args[2], os.Args[3])
	}
}
