// Package redisstreamsadapter is a sioadapter.Adapter over Redis Streams,
// wire-compatible with the npm @socket.io/redis-streams-adapter 0.3: Go
// and Node nodes can share one cluster, and a client can recover its
// connection on any of them.
//
// Use New as socketio.Options.Adapter:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	srv := socketio.NewServer(&socketio.Options{Adapter: redisstreamsadapter.New(rdb, nil)})
//
// Broadcasts and the join, leave and disconnect requests are appended
// (XADD, MAXLEN ~) to one stream, which every node reads in a loop (XREAD
// BLOCK) on a connection of its own. One goroutine per server appends, in
// the order the broadcasts were made, sending what was queued meanwhile
// as one pipeline: a broadcast that needs no offset (see Connection state
// recovery) is queued and reaches the local clients at once; one whose
// offset is kept waits for its entry's id. Requests that want answers
// (broadcasts with acks, fetchSockets, server-side emits) and the answers
// travel on Redis pub/sub, as msgpack: "<prefix>#<nsp>#" for every node
// and "<prefix>#<nsp>#<uid>#" for one. The number of nodes is the number
// of subscribers of the first.
//
// # What a Redis outage costs
//
// A node remembers the id of the last entry it read and, when Redis is
// back, reads on from it: every entry the stream still holds reaches every
// node, once, in order. What the stream holds after Redis restarts depends
// on Redis: with appendonly (and appendfsync always) nothing it
// acknowledged is lost; without persistence the stream restarts empty and
// only what was read before the outage has arrived. Broadcasts made while
// Redis is unreachable wait in the append queue, up to
// Options.MaxQueueBytes and for at most Options.MaxQueueAge, and are
// appended once Redis answers; past that bound they are dropped, counted
// (Adapter.Dropped) and logged. Broadcasts that wait for their offset
// reach the local clients only meanwhile, as do pub/sub messages (acks,
// fetchSockets, server-side emits), which Redis never keeps. An entry
// whose reply is lost is not appended again, since Redis may have taken
// it. go-redis itself retries a command whose answer was lost; an XADD
// retried across a crash can then be appended twice, which MaxRetries -1
// on the client rules out.
//
// # Connection state recovery
//
// With socketio.Options.ConnectionStateRecovery, a broadcast's stream
// entry id is its offset, the same on every node; a disconnected socket's
// session is kept under "<sessionKeyPrefix><pid>" (base64 msgpack, as the
// reference does) for MaxDisconnectionDuration, and a client that comes
// back, to any node, gets what the stream holds after its offset. Only
// the broadcasts recovery keeps (not volatile ones) wait for Redis.
package redisstreamsadapter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// Options configures New. The zero value has the reference's defaults.
type Options struct {
	// StreamName is the Redis stream. Default "socket.io".
	StreamName string
	// MaxLen is the stream's length, trimmed almost exactly (MAXLEN ~).
	// It bounds what a recovering client and a node back from an outage
	// can catch up on. Default 10 000.
	MaxLen int64
	// ReadCount is the most entries one XREAD returns. Default 100.
	ReadCount int64
	// BlockTime is how long one XREAD waits for entries. Default 5s.
	BlockTime time.Duration
	// ChannelPrefix starts the pub/sub channels' names. Default
	// "socket.io".
	ChannelPrefix string
	// SessionKeyPrefix starts the keys of the sessions kept for
	// connection state recovery. Default "sio:session:".
	SessionKeyPrefix string
	// RequestsTimeout bounds cluster requests (FetchSockets,
	// ServerSideEmit with answers), broadcast acks without a timeout of
	// their own, and each command a broadcast waits for. Default 5s.
	RequestsTimeout time.Duration
	// MaxQueueBytes bounds the stream entries waiting to be appended,
	// for those that need no offset (see the package doc). Default 8 MiB.
	MaxQueueBytes int
	// MaxQueueAge is the longest an entry waits to be appended, while
	// Redis is unreachable. Default 10s.
	MaxQueueAge time.Duration
	// Logger receives Redis errors and dropped entries. Default:
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// New returns an adapter factory for socketio.Options.Adapter. The
// adapters of one server share the stream's reader and the pub/sub
// connection. client may be a *redis.Client or a *redis.ClusterClient,
// whose options also make the reader's dedicated connection.
func New(client redis.UniversalClient, opts *Options) sioadapter.Factory {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10_000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.BlockTime <= 0 {
		o.BlockTime = 5 * time.Second
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = defaultMaxQueueBytes
	}
	if o.MaxQueueAge <= 0 {
		o.MaxQueueAge = defaultMaxQueueAge
	}
	o.Logger = siolog.Logger("redisstreamsadapter", o.Logger)
	hubs := &sioadapter.Shared[*hub]{}
	return func(h sioadapter.Host) sioadapter.Adapter { return newAdapter(h, client, o, hubs) }
}

// Adapter is the Redis Streams adapter of one namespace: the cluster
// protocol of package clusteradapter over the stream and pub/sub, and a
// sioadapter.SessionStore kept in Redis.
type Adapter struct {
	*clusteradapter.Adapter
	host      sioadapter.Host
	rdb       redis.UniversalClient
	opts      Options
	hub       *hub
	hubs      *sioadapter.Shared[*hub]
	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	closeOnce sync.Once

	channel, privateChannel string
}

var (
	_ sioadapter.Adapter      = (*Adapter)(nil)
	_ sioadapter.SessionStore = (*Adapter)(nil)
)

func newAdapter(h sioadapter.Host, rdb redis.UniversalClient, o Options, hubs *sioadapter.Shared[*hub]) *Adapter {
	a := &Adapter{host: h, rdb: rdb, opts: o, hubs: hubs}
	a.ctx, a.cancel = context.WithCancel(context.Background()) //sio:root-context: an adapter lives until Close
	a.Adapter = clusteradapter.New(h, transport{a}, &clusteradapter.Options{RequestsTimeout: o.RequestsTimeout, Logger: o.Logger})
	a.channel = o.ChannelPrefix + "#" + h.Name() + "#"
	a.privateChannel = a.channel + a.UID() + "#"
	a.hub = hubs.Acquire(h.Server(), func() *hub { return newHub(rdb, o) })
	a.hub.add(a)
	return a
}

// Dropped reports how many messages for other nodes the adapters of this
// server have dropped since it started: sent while Redis was unreachable
// (pub/sub messages, broadcasts that wait for their offset), past the
// append queue's bound (Options.MaxQueueBytes, MaxQueueAge), lost with
// Redis's reply, or still queued when the server closed.
func (a *Adapter) Dropped() uint64 { return a.hub.dropped.Load() }

// Close implements sioadapter.Adapter: the server's last adapter to close
// stops the stream's reader and the subscriptions.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		_ = a.Adapter.Close()
		a.cancel()
		a.hub.remove(a)
		if a.hubs.Release(a.host.Server()) {
			a.hub.close()
		}
	})
	return nil
}
