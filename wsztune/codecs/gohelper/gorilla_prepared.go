//go:build !nogorilla

// gorilla/websocket 1.5.0's own PreparedMessage broadcast, for timing it (timePrepared). Built
// unless the tag nogorilla is set: wsztune sets it where gorilla/websocket is not found
// (wsztune.codecs.go), and gorilla_prepared_none.go stands in.

package main

import (
	"net/http"
	"time"

	gorillaws "github.com/gorilla/websocket"
)

// newGorillaFleet is count gorilla server connections upgraded as bench/broadcast_go's server
// upgrades them (a 4 KiB write buffer, compression negotiated when compress is set, at the
// cell's level), each read by a goroutine for control frames and written by a goroutine of its
// own with WritePreparedMessage. A message under the cell's threshold goes out uncompressed
// (EnableWriteCompression off for it: the PreparedMessage's plain frame).
func newGorillaFleet(job cellJob, count int, compress bool) (*fleet, error) {
	upgrader := gorillaws.Upgrader{EnableCompression: compress, WriteBufferSize: 4096}
	return newFleet(count, compress, func(w *hijackable, r *http.Request) (func(delivery) error, error) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		w.conn.written = 0 // gorilla writes its handshake response to the connection itself
		if compress {
			c.EnableWriteCompression(true)
			if err := c.SetCompressionLevel(job.Level); err != nil {
				return nil, err
			}
		}
		go func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		return func(d delivery) error {
			if compress {
				c.EnableWriteCompression(len(d.payload) >= job.Threshold)
			}
			return c.WritePreparedMessage(d.prepared.(*gorillaws.PreparedMessage))
		}, nil
	})
}

// preparedDeliveries times a PreparedMessage broadcast to connections subscribers with
// compression at the cell's level and as many with compression off (fleetDeliveries): per
// message, a pause, NewPreparedMessage, then WritePreparedMessage by every subscriber's writer,
// as bench/broadcast_go's server does. Also returns the bytes one subscriber's connection was sent.
func preparedDeliveries(job cellJob, connections, stretches, warmup int, pause time.Duration, stretch func(int) [][]byte) ([]float64, int64, error) {
	on, off, err := fleetPair(func(compress bool) (*fleet, error) {
		return newGorillaFleet(job, connections, compress)
	})
	if err != nil {
		return nil, 0, err
	}
	defer on.close()
	defer off.close()
	send := func(f *fleet, p []byte) error {
		time.Sleep(pause) // the server idles between broadcasts: see timePrepared
		pm, err := gorillaws.NewPreparedMessage(gorillaws.TextMessage, p)
		if err != nil {
			return err
		}
		return f.broadcast(delivery{payload: p, prepared: pm})
	}
	out, err := fleetDeliveries(on, off, stretches, warmup, stretch, send)
	return out, on.conns[0].written, err
}
