package signalserver

import (
	"fmt"
	"io"
	"sync/atomic"
)

// refusal is why a connection was refused before the WebSocket upgrade.
type refusal uint8

const (
	refusalNone refusal = iota
	refusalBadRoom
	refusalBadNext
	refusalOrigin
	refusalIPConns
	refusalIPRate
	refusalRoomFull
	refusalShuttingDown
	refusalUpgrade
	refusalRegistry
	refusalAuth
	refusalMaxConns // MaxConns reached
	refusalCount
)

var refusalNames = [refusalCount]string{"", "bad_room", "bad_next", "origin", "ip_conns", "ip_rate", "room_full", "shutting_down", "upgrade", "registry_unavailable", "auth", "max_conns"}

// drop is why a client frame was dropped without closing the client.
type drop uint8

const (
	dropMalformed drop = iota
	dropUnknownMessage
	dropBinary
	dropUnknownReceiver
	dropForeignReceiver
	dropBus          // the bus or the shared registry failed
	dropReceiverFull // a signal from another instance for a client whose queue overran twice its bound
	dropCount
)

var dropNames = [dropCount]string{"malformed", "unknown_message", "binary", "unknown_receiver", "foreign_receiver", "bus_error", "receiver_full"}

// disconnect is why the server ended a client's connection.
type disconnect uint8

const (
	disconnectClosed       disconnect = iota // the client closed or the connection broke
	disconnectTimeout                        // nothing read within ReadTimeout
	disconnectFrameTooBig                    // frame over MaxFrameBytes
	disconnectSlowConsumer                   // send queue full and not draining (see Config.SlowConsumerTimeout)
	disconnectWriteError                     // a write failed or timed out
	disconnectRoomFull                       // the room filled between check and join
	disconnectShutdown                       // the server is shutting down
	disconnectRegistry                       // the registry failed
	disconnectRegistryLost                   // the shared registry dropped this instance's peers
	disconnectInvalidUTF8                    // a text frame that is not UTF-8 (closed with 1007)
	disconnectMemoryCap                      // writes stalled while all queues exceeded Config.MaxQueuedBytes
	disconnectCount
)

var disconnectNames = [disconnectCount]string{"closed", "timeout", "frame_too_large", "slow_consumer", "write_error", "room_full", "shutdown", "registry_error", "registry_lost", "invalid_utf8", "memory_cap"}

// Metrics counts what the server does. All fields are safe for concurrent use.
type Metrics struct {
	Peers          atomic.Int64 // connected peers (gauge)
	Joins          atomic.Int64 // peers that joined a room (and were announced to it)
	SignalsRelayed atomic.Int64 // signals handed to their receiver's send queue or to the instance holding it
	KeepAlives     atomic.Int64 // "KeepAlive" frames received from clients
	BytesIn        atomic.Int64 // client frame payload bytes
	BytesOut       atomic.Int64 // frame payload bytes queued to clients
	QueuedBytes    atomic.Int64 // bytes waiting in all send queues, as Config.MaxQueuedBytes counts them (gauge)
	SenderPauses   atomic.Int64 // signals whose sender waited for room in a full send queue
	refused        [refusalCount]atomic.Int64
	dropped        [dropCount]atomic.Int64
	disconnects    [disconnectCount]atomic.Int64
}

// Refused returns how many connections were refused for reason (a label of
// signalserver_refused_total, such as "bad_next").
func (m *Metrics) Refused(reason string) int64 { return lookup(m.refused[:], refusalNames[:], reason) }

// Dropped returns how many client frames were dropped for reason (a label of
// signalserver_dropped_total, such as "malformed").
func (m *Metrics) Dropped(reason string) int64 { return lookup(m.dropped[:], dropNames[:], reason) }

// Disconnects returns how many clients were disconnected for reason (a label
// of signalserver_disconnects_total, such as "slow_consumer").
func (m *Metrics) Disconnects(reason string) int64 {
	return lookup(m.disconnects[:], disconnectNames[:], reason)
}

func lookup(counters []atomic.Int64, names []string, name string) int64 {
	for i, n := range names {
		if n == name && n != "" {
			return counters[i].Load()
		}
	}
	return 0
}

// promMetric writes one unlabelled metric of kind gauge or counter in the
// Prometheus text exposition format.
func promMetric(w io.Writer, kind, name, help string, v int64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, kind, name, v)
}

// promLabelled writes a counter with one value per reason; empty names are
// skipped.
func promLabelled(w io.Writer, name, help string, names []string, value func(i int) int64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
	for i, n := range names {
		if n != "" {
			fmt.Fprintf(w, "%s{reason=%q} %d\n", name, n, value(i))
		}
	}
}

// writePrometheus writes the metrics in the Prometheus text exposition format.
func (m *Metrics) writePrometheus(w io.Writer, groups int) {
	gauge := func(name, help string, v int64) { promMetric(w, "gauge", name, help, v) }
	counter := func(name, help string, v int64) { promMetric(w, "counter", name, help, v) }
	labelled := func(name, help string, counters []atomic.Int64, names []string) {
		promLabelled(w, name, help, names, func(i int) int64 { return counters[i].Load() })
	}
	gauge("signalserver_peers", "Connected peers.", m.Peers.Load())
	gauge("signalserver_rooms", "Groups of peers (rooms, next pools and completed next groups) with at least one member.", int64(groups))
	counter("signalserver_joins_total", "Peers that joined a room.", m.Joins.Load())
	counter("signalserver_signals_relayed_total", "Signals relayed between peers.", m.SignalsRelayed.Load())
	counter("signalserver_keepalives_total", "KeepAlive messages received.", m.KeepAlives.Load())
	counter("signalserver_received_bytes_total", "Payload bytes of client frames.", m.BytesIn.Load())
	counter("signalserver_sent_bytes_total", "Payload bytes of frames queued to clients.", m.BytesOut.Load())
	gauge("signalserver_queued_bytes", "Bytes waiting in all send queues (payload plus 64 per frame).", m.QueuedBytes.Load())
	counter("signalserver_sender_pauses_total", "Signals whose sender waited for room in the receiver's full send queue.", m.SenderPauses.Load())
	labelled("signalserver_refused_total", "Connections refused before the WebSocket upgrade, by reason.", m.refused[:], refusalNames[:])
	labelled("signalserver_dropped_total", "Client frames dropped, by reason.", m.dropped[:], dropNames[:])
	labelled("signalserver_disconnects_total", "Client connections ended, by reason.", m.disconnects[:], disconnectNames[:])
}
