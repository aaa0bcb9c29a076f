//go:build nogorilla

// The helper built without gorilla/websocket (wsztune sets the tag nogorilla where it is not
// found): gorilla's PreparedMessage broadcast is not timed through gorilla, and wsztune says so
// in the cell (compress_once.delivery_timing).

package main

// gorillaBuilt says this helper cannot time gorilla through its own connections: its
// deliveries are timed with the pooled writer and frame writer, its PreparedMessage not at all.
const gorillaBuilt = false

// preparedDeliveries and gorillaDeliveries are never called here (gorillaBuilt is false).
func preparedDeliveries(job cellJob, connections, stretches, warmup int, stretch func(int) [][]byte) ([]float64, wire, error) {
	return nil, wire{}, nil
}

func gorillaDeliveries(job cellJob, connections int, series broadcastSeries, times *deliveryTimes) (wire, error) {
	return wire{}, nil
}

func closeGorillaFleets() {}
