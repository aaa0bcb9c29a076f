//go:build !nogorilla

// gorilla/websocket 1.5.0's own broadcast, for timing it: WriteMessage per subscriber
// (gorillaDeliveries) and PreparedMessage (preparedDeliveries, timePrepared). Built unless the
// tag nogorilla is set: wsztune sets it where gorilla/websocket is not found
// (wsztune.codecs.go), and gorilla_prepared_none.go stands in.

package main

import (
	"net/http"

	gorillaws "github.com/gorilla/websocket"
)

// gorillaBuilt says this helper times gorilla through gorilla/websocket's own connections.
const gorillaBuilt = true

// gorillaFleets are the helper process's gorilla connections, built once and shared by its
// cells (a cell's level and threshold travel with each delivery). Building 1,000 connections
// over loopback sockets takes seconds; the cells of a run would otherwise each pay it twice.
// closeGorillaFleets closes them once the cells are done.
var gorillaFleets = map[fleetKey]*fleet{}

// closeGorillaFleets closes every shared fleet and waits for its drain process to end, so that
// none is left for init to reap (where the helper's parent is PID 1, it never would be).
func closeGorillaFleets() {
	for key, f := range gorillaFleets {
		f.close()
		delete(gorillaFleets, key)
	}
}

// fleetKey is what a shared fleet was built for: compression on or off, over real sockets or
// not, and how many connections.
type fleetKey struct {
	compress, sockets bool
	count             int
}

// sharedGorillaFleet is at least count gorilla connections (compression on or off, over real
// sockets or not), built on first use.
func sharedGorillaFleet(count int, compress, sockets bool) (*fleet, error) {
	for key, f := range gorillaFleets {
		if key.compress == compress && key.sockets == sockets && key.count >= count {
			return f, nil
		}
	}
	f, err := newGorillaFleet(count, compress, sockets)
	if err != nil {
		return nil, err
	}
	gorillaFleets[fleetKey{compress, sockets, count}] = f
	return f, nil
}

// newGorillaFleet is count gorilla server connections upgraded as a net/http server with
// gorilla's defaults upgrades them (the hijacked 4 KiB buffer as the write buffer, as the
// model frames: gorillaServerBuffer), compression negotiated when compress is set, each read by
// a goroutine for control frames and written by a goroutine of its own: WriteMessage, or
// WritePreparedMessage for a delivery carrying a PreparedMessage, at the delivery's level. A
// message under the delivery's threshold goes out uncompressed (EnableWriteCompression off for
// it), as a PreparedMessage's plain frame.
func newGorillaFleet(count int, compress, sockets bool) (*fleet, error) {
	upgrader := gorillaws.Upgrader{EnableCompression: compress}
	return newFleet(count, compress, sockets, func(w *hijackable, r *http.Request) (func(delivery) error, error) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		w.conn.sent = wire{sum: w.conn.sent.sum} // gorilla writes its handshake response to the connection itself
		// The level this connection compresses at, unknown until the first delivery sets it:
		// gorilla starts a connection at level 1 (compression.go defaultCompressionLevel), so a
		// level-0 cell on a fresh connection would otherwise compress at 1.
		level, levelSet := 0, false
		go func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		return func(d delivery) error {
			if compress {
				c.EnableWriteCompression(len(d.payload) >= d.threshold)
				if !levelSet || d.level != level {
					if err := c.SetCompressionLevel(d.level); err != nil {
						return err
					}
					level, levelSet = d.level, true
				}
			}
			if d.prepared != nil {
				return c.WritePreparedMessage(d.prepared.(*gorillaws.PreparedMessage))
			}
			return c.WriteMessage(gorillaws.TextMessage, d.payload)
		}, nil
	})
}

// gorillaFleetPair is count connections with compression at the cell's setting and as many
// with it off, the bytes each has written so far forgotten (the cell's check counts its own).
// Not fleetPair: these fleets are shared, so a failure leaves them open (closeGorillaFleets
// closes them) where fleetPair closes the first.
func gorillaFleetPair(count int, sockets bool) (*fleet, *fleet, error) {
	on, err := sharedGorillaFleet(count, true, sockets)
	if err != nil {
		return nil, nil, err
	}
	off, err := sharedGorillaFleet(count, false, sockets)
	if err != nil {
		return nil, nil, err
	}
	on.conns[0].sent = wire{sum: true} // its writer is idle: every broadcast was waited for
	return on, off, nil
}

// gorillaDeliveries times a broadcast with WriteMessage through `connections` gorilla
// connections at the cell's level and as many with compression off (fleetTimes: its longer
// messages too), as bench/broadcast_go's server writes each subscriber, over loopback sockets,
// into times. Also returns the bytes one subscriber's connection was sent, for the caller to
// hold against the modelled frames.
func gorillaDeliveries(job cellJob, connections int, series broadcastSeries, times *deliveryTimes) (wire, error) {
	on, off, err := gorillaFleetPair(connections, true)
	if err != nil {
		return wire{}, err
	}
	send := func(f *fleet, p []byte) error {
		return f.broadcastTo(connections, delivery{payload: p, level: job.Level, threshold: job.Threshold})
	}
	return fleetTimes(times, on, off, series, send, job.Threshold)
}

// preparedDeliveries times a PreparedMessage broadcast to connections subscribers with
// compression at the cell's level and as many with compression off (fleetDeliveries): per
// message, NewPreparedMessage, then WritePreparedMessage by every subscriber's writer, as
// bench/broadcast_go's server does, over sockets whose writes cost nothing (over loopback
// sockets its 256 connections' writes made a run twice as long). Also returns the bytes one
// subscriber's connection was sent.
func preparedDeliveries(job cellJob, connections, stretches, warmup int, stretch func(int) [][]byte) ([]float64, wire, error) {
	on, off, err := gorillaFleetPair(connections, false)
	if err != nil {
		return nil, wire{}, err
	}
	send := func(f *fleet, p []byte) error {
		pm, err := gorillaws.NewPreparedMessage(gorillaws.TextMessage, p)
		if err != nil {
			return err
		}
		d := delivery{payload: p, prepared: pm, level: job.Level, threshold: job.Threshold}
		return f.broadcastTo(connections, d)
	}
	out, err := fleetDeliveries(on, off, stretches, warmup, stretch, send, 0)
	return out, on.conns[0].sent, err
}
