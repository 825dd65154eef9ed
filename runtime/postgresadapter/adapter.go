// Package postgresadapter is a sioadapter.Adapter over PostgreSQL
// LISTEN/NOTIFY, wire-compatible with the npm @socket.io/postgres-adapter
// 0.5: Go and Node nodes can share one cluster.
//
// Use New as socketio.Options.Adapter:
//
//	pool, err := pgxpool.New(ctx, "postgres://user@127.0.0.1:5432/db")
//	srv := socketio.NewServer(&socketio.Options{Adapter: postgresadapter.New(pool, nil)})
//
// Every message of the cluster protocol (package clusteradapter, with
// heartbeats) is a NOTIFY on the channel "<prefix>#<nsp>", as JSON, sent
// through the pool. A message whose JSON reaches PayloadThreshold bytes,
// or that holds binary, is inserted as msgpack into the attachment table
// (created if it does not exist) and the NOTIFY carries only its sender,
// type and row id; each node reads the row back, in the order the
// notifications came. (The reference sends binary that way only in
// broadcasts, acks and server-side emits, and JSON-encodes it elsewhere,
// as in a fetchSockets answer with binary socket data; a node of either
// reads both forms.) A node deletes the rows older than
// CleanupInterval every CleanupInterval. The number of nodes is the
// number heard from within the heartbeat timeout.
//
// Each server listens on one connection of its own, outside the pool,
// and handles what arrives on one goroutine, in order: the handlers of
// server-side emits (socketio.Namespace.OnServerSideEmit) run there, so
// one that blocks delays every later message from the other nodes, and
// one that panics is logged and skipped. When the connection fails, the
// node connects again (after one to three seconds, as the reference
// does), LISTENs again and announces itself, so that the others answer
// with heartbeats at once. A listening connection quiet for the heartbeat
// timeout is pinged, so that a server gone without closing it is noticed.
//
// # What an outage costs
//
// NOTIFY delivers at most once. PostgreSQL queues a notification only for
// the sessions listening when it commits: what is sent while a node's
// listening connection is down never reaches that node, and what a node
// sends while PostgreSQL is unreachable reaches its local clients only.
// After a failed statement a node stops trying to publish until PostgreSQL
// answers a ping again, so that broadcasts do not each wait for it.
//
// Connection state recovery is not supported, as by the reference.
package postgresadapter

import (
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// Options configures New. The zero value has the reference's defaults.
type Options struct {
	// ChannelPrefix starts the notification channels' names:
	// "<prefix>#<nsp>", which PostgreSQL limits to 63 bytes. Default
	// "socket.io".
	ChannelPrefix string
	// TableName is the table of the messages too large for a NOTIFY or
	// holding binary, created if it does not exist. A name with a dot is
	// schema-qualified; each part is quoted, so a name meant to match
	// the reference's should be lower case. Default
	// "socket_io_attachments".
	TableName string
	// PayloadThreshold is the size in bytes of the JSON message from
	// which it goes through the table instead. PostgreSQL refuses a
	// payload of 8000 bytes or more. Default 8000.
	PayloadThreshold int
	// CleanupInterval is how often a node deletes the table's rows, and
	// how old a row must be to go. Default 30s.
	CleanupInterval time.Duration
	// HeartbeatInterval is how long a node stays silent before it sends a
	// heartbeat. Default 5s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a node may stay silent before the
	// others count it gone. Default 10s.
	HeartbeatTimeout time.Duration
	// RequestsTimeout bounds cluster requests (FetchSockets,
	// ServerSideEmit with answers), broadcast acks without a timeout of
	// their own, and each statement. Default 5s.
	RequestsTimeout time.Duration
	// Logger receives PostgreSQL errors and dropped notifications.
	// Default: slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// New returns an adapter factory for socketio.Options.Adapter. The
// adapters of one server share the listening connection, which is made
// with pool's connection settings; notifications and attachments go
// through pool.
func New(pool *pgxpool.Pool, opts *Options) sioadapter.Factory {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.TableName == "" {
		o.TableName = "socket_io_attachments"
	}
	if o.PayloadThreshold <= 0 {
		o.PayloadThreshold = 8000
	}
	if o.CleanupInterval <= 0 {
		o.CleanupInterval = 30 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 5 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 10 * time.Second
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	o.Logger = siolog.Logger("postgresadapter", o.Logger)
	hubs := &sioadapter.Shared[*hub]{}
	return func(h sioadapter.Host) sioadapter.Adapter { return newAdapter(h, pool, o, hubs) }
}

// Adapter is the PostgreSQL adapter of one namespace: the cluster
// protocol of package clusteradapter, with heartbeats, over NOTIFY. Its
// methods may be called from many goroutines at once.
type Adapter struct {
	*clusteradapter.Adapter
	host      sioadapter.Host
	hub       *hub
	hubs      *sioadapter.Shared[*hub]
	channel   string
	closeOnce sync.Once
}

var _ sioadapter.Adapter = (*Adapter)(nil)

func newAdapter(h sioadapter.Host, pool *pgxpool.Pool, o Options, hubs *sioadapter.Shared[*hub]) *Adapter {
	a := &Adapter{host: h, hubs: hubs, channel: o.ChannelPrefix + "#" + h.Name()}
	a.Adapter = clusteradapter.New(h, transport{a}, &clusteradapter.Options{
		RequestsTimeout: o.RequestsTimeout,
		Heartbeat:       &clusteradapter.HeartbeatOptions{Interval: o.HeartbeatInterval, Timeout: o.HeartbeatTimeout},
		Logger:          o.Logger,
	})
	a.hub = hubs.Acquire(h.Server(), func() *hub { return newHub(pool, o) })
	a.hub.add(a)
	return a
}

// Close implements sioadapter.Adapter: it tells the other nodes that this
// one leaves; the server's last adapter to close closes the listening
// connection. It does not close the pool.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		_ = a.Adapter.Close()
		a.hub.remove(a)
		if a.hubs.Release(a.host.Server()) {
			a.hub.close()
		}
	})
	return nil
}
