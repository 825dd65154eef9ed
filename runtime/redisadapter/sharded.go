package redisadapter

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
)

// SubscriptionMode says which rooms a sharded adapter gives a channel of
// their own.
type SubscriptionMode int

// Subscription modes, as the reference names them.
const (
	// Dynamic gives each public room (one that is not a socket id) its
	// own channel, which only the nodes holding the room subscribe to.
	Dynamic SubscriptionMode = iota
	// Static sends everything on the namespace's channel.
	Static
	// DynamicPrivate gives every room its own channel, socket ids too.
	DynamicPrivate
)

// ShardedOptions configures NewSharded. The zero value has the
// reference's defaults.
type ShardedOptions struct {
	// ChannelPrefix starts every channel name. Default "socket.io".
	ChannelPrefix string
	// SubscriptionMode is Dynamic unless set.
	SubscriptionMode SubscriptionMode
	// RequestsTimeout bounds cluster requests (FetchSockets,
	// ServerSideEmit with acks) and broadcast acks without a timeout of
	// their own. Default 5s.
	RequestsTimeout time.Duration
	// Logger receives Redis errors and dropped messages. Default:
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// MaxQueueBytes bounds the payloads waiting to be published, for
	// every namespace of a server together. Default 8 MiB.
	MaxQueueBytes int
	// MaxQueueAge is the longest a message waits to be published, while
	// Redis is unreachable; older ones are dropped. Default 10s.
	MaxQueueAge time.Duration
}

// NewSharded returns an adapter factory for socketio.Options.Adapter that
// uses Redis sharded pub/sub (SPUBLISH, SSUBSCRIBE; Redis 7 or later),
// wire-compatible with createShardedAdapter of the npm
// @socket.io/redis-adapter 8: Go and Node nodes can share one cluster.
// client may be a *redis.ClusterClient, whose shard channels then spread
// over the cluster's nodes.
//
// Messages go on "<prefix>#<nsp>#" (and, for a room with a channel of its
// own, "<prefix>#<nsp>#<room>#"), as JSON or, when they carry binary,
// msgpack; answers come back on "<prefix>#<nsp>#<uid>#", the asking
// node's channel. The number of nodes is the number of subscribers of the
// namespace's channel. Connection state recovery, if enabled, works within
// one node only.
//
// A node subscribes to a room's channel when the room comes to exist
// there, and the join that made it returns once Redis has confirmed: what
// other nodes publish to the room from then on arrives. (A join asked of
// another node with SocketsJoin is applied there later, as it arrives.)
//
// The adapters of one server share their subscriptions (one connection
// per hash slot in use on a Redis Cluster, one otherwise) and one publish
// queue, as New's do, with the same behaviour while Redis is away.
func NewSharded(client redis.UniversalClient, opts *ShardedOptions) sioadapter.Factory {
	o := ShardedOptions{}
	if opts != nil {
		o = *opts
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	o.Logger = siolog.Logger("redisadapter", o.Logger)
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = defaultMaxQueueBytes
	}
	if o.MaxQueueAge <= 0 {
		o.MaxQueueAge = defaultMaxQueueAge
	}
	servers := &sioadapter.Shared[*shardHub]{}
	return func(h sioadapter.Host) sioadapter.Adapter { return newShardedAdapter(h, client, o, servers) }
}

// ShardedAdapter is the sharded Redis adapter of one namespace: the
// cluster protocol of package clusteradapter, carried on shard channels.
type ShardedAdapter struct {
	*clusteradapter.Adapter
	host sioadapter.Host
	rdb  redis.UniversalClient
	opts ShardedOptions

	channel, responseChannel string

	hub       *shardHub // shared by the server's namespaces
	servers   *sioadapter.Shared[*shardHub]
	closeOnce sync.Once

	// mu guards roomSubs, the rooms whose channel this node subscribes to.
	mu       sync.Mutex
	roomSubs map[string]bool
}

var _ sioadapter.Adapter = (*ShardedAdapter)(nil)

// shardTransport is the clusteradapter.Transport of a ShardedAdapter.
type shardTransport struct{ a *ShardedAdapter }

var _ clusteradapter.ServerCounter = shardTransport{}

func newShardedAdapter(h sioadapter.Host, rdb redis.UniversalClient, o ShardedOptions, servers *sioadapter.Shared[*shardHub]) *ShardedAdapter {
	a := &ShardedAdapter{
		host:     h,
		rdb:      rdb,
		opts:     o,
		roomSubs: map[string]bool{},
		servers:  servers,
	}
	host := h
	if o.SubscriptionMode != Static {
		host = roomWatcher{Host: h, watch: a.onRoomEvent}
	}
	a.Adapter = clusteradapter.New(host, shardTransport{a}, &clusteradapter.Options{RequestsTimeout: o.RequestsTimeout, Logger: o.Logger})
	a.channel = o.ChannelPrefix + "#" + h.Name() + "#"
	a.responseChannel = a.channel + a.UID() + "#"
	a.hub = servers.Acquire(h.Server(), func() *shardHub { return newShardHub(rdb, o) })
	// Subscribe before serving, so that this node counts, and hears, from
	// the start.
	a.hub.subscribe(a, a.channel)
	a.hub.subscribe(a, a.responseChannel)
	return a
}

// roomWatcher shows the adapter its namespace's room changes before the
// namespace sees them, so that it subscribes to a new room's channel
// before the join that made the room returns.
type roomWatcher struct {
	sioadapter.Host
	watch func(sioadapter.RoomEvent)
}

// RoomsChanged implements sioadapter.Host.
func (w roomWatcher) RoomsChanged(events []sioadapter.RoomEvent) {
	for _, e := range events {
		w.watch(e)
	}
	w.Host.RoomsChanged(events)
}

// onRoomEvent subscribes to the channel of a room that comes to exist on
// this node, before the join that made it returns, and unsubscribes when
// the room is gone.
func (a *ShardedAdapter) onRoomEvent(e sioadapter.RoomEvent) {
	switch e.Kind {
	case sioadapter.RoomCreated:
		if a.opts.SubscriptionMode == Dynamic && len(a.SocketRooms(e.Room)) > 0 {
			return // a socket's own room
		}
		a.mu.Lock()
		a.roomSubs[e.Room] = true
		a.mu.Unlock()
		a.hub.subscribe(a, a.roomChannel(e.Room))
	case sioadapter.RoomDeleted:
		a.mu.Lock()
		had := a.roomSubs[e.Room]
		delete(a.roomSubs, e.Room)
		a.mu.Unlock()
		if had {
			a.hub.unsubscribe(a, a.roomChannel(e.Room))
		}
	}
}

func (a *ShardedAdapter) roomChannel(room string) string { return a.channel + room + "#" }

// looksLikeSocketID tells a socket's own room by its length, as the
// reference does: 20 characters, counted in UTF-16 like JavaScript. (It
// runs for every broadcast to one room, so it counts without converting.)
func looksLikeSocketID(room string) bool {
	if len(room) < 20 || len(room) > 60 { // 1 to 3 bytes per UTF-16 unit
		return false
	}
	units := 0
	for _, r := range room {
		units += max(1, utf16.RuneLen(r))
	}
	return units == 20
}

// channelOf picks a message's channel: a broadcast without acks to one
// room takes the room's own, when the room has one; everything else
// takes the namespace's. (Broadcasts with acks must reach every node,
// holding the room or not, since each reports its count.)
func (a *ShardedAdapter) channelOf(m *clusteradapter.Message) string {
	if m.Type != clusteradapter.Broadcast || m.RequestID() != "" {
		return a.channel
	}
	if rooms := m.Rooms(); len(rooms) == 1 {
		switch a.opts.SubscriptionMode {
		case Dynamic:
			if !looksLikeSocketID(rooms[0]) {
				return a.roomChannel(rooms[0])
			}
		case DynamicPrivate:
			return a.roomChannel(rooms[0])
		}
	}
	return a.channel
}

// encodeSharded encodes a message as the reference does: msgpack when it
// carries binary, JSON otherwise.
func encodeSharded(m *clusteradapter.Message) ([]byte, error) {
	if m.HasBinary() {
		return msgpack.Marshal(m)
	}
	return json.Marshal(m)
}

// decodeSharded decodes a message's envelope and then its data, into
// what its type calls for.
func decodeSharded(payload []byte) (*clusteradapter.Message, error) {
	if len(payload) > 0 && payload[0] == '{' {
		var env struct {
			UID  string                     `json:"uid"`
			Nsp  string                     `json:"nsp"`
			Type clusteradapter.MessageType `json:"type"`
			Data json.RawMessage            `json:"data"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, err
		}
		m := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
		if m.Data = clusteradapter.NewData(m.Type); m.Data != nil && len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, m.Data); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	var env struct {
		UID  string                     `msgpack:"uid"`
		Nsp  string                     `msgpack:"nsp"`
		Type clusteradapter.MessageType `msgpack:"type"`
		Data msgpack.RawMessage         `msgpack:"data"`
	}
	if err := adapterwire.UnmarshalMsgpack(payload, &env); err != nil {
		return nil, err
	}
	m := &clusteradapter.Message{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
	if m.Data = clusteradapter.NewData(m.Type); m.Data != nil && len(env.Data) > 0 {
		if err := adapterwire.UnmarshalMsgpack(env.Data, m.Data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Publish implements clusteradapter.Transport: the message is queued; it
// never waits for Redis, and has no offset.
func (t shardTransport) Publish(_ context.Context, m *clusteradapter.Message) (string, error) {
	return "", t.a.send(t.a.channelOf(m), m)
}

// PublishResponse implements clusteradapter.Transport: the answer goes on
// the asking node's own channel.
func (t shardTransport) PublishResponse(_ context.Context, uid string, m *clusteradapter.Message) error {
	return t.a.send(t.a.channel+uid+"#", m)
}

// ServerCount implements clusteradapter.ServerCounter: the subscribers of
// the namespace's channel, every node of every language.
func (t shardTransport) ServerCount(ctx context.Context) (int, error) {
	counts, err := shardNumSub(ctx, t.a.rdb, t.a.channel)
	if err != nil {
		return 1, err
	}
	return max(1, int(counts)), nil
}

// send queues m for channel.
func (a *ShardedAdapter) send(channel string, m *clusteradapter.Message) error {
	payload, err := encodeSharded(m)
	if err != nil {
		a.opts.Logger.Debug("redisadapter: encode", "type", m.Type.String(), "err", err)
		return err
	}
	a.hub.pub.send(channel, a.channel, payload)
	return nil
}

// Dropped reports how many messages for other nodes the adapters of this
// server have dropped since it started, because Redis was unreachable for
// longer than the queue's bound (ShardedOptions.MaxQueueAge,
// MaxQueueBytes) or the server closed before Redis took them.
func (a *ShardedAdapter) Dropped() uint64 { return a.hub.pub.dropped.Load() }

// onRaw handles what a subscription delivers: answers count only on this
// node's own channel.
func (a *ShardedAdapter) onRaw(channel string, payload []byte) {
	m, err := decodeSharded(payload)
	if err != nil {
		a.opts.Logger.Debug("redisadapter: malformed message dropped", "channel", channel, "err", err)
		return
	}
	if m.Type.IsResponse() {
		if channel == a.responseChannel {
			a.OnResponse(m)
		}
		return
	}
	a.OnMessage(m, "")
}

// Close implements sioadapter.Adapter: it unsubscribes; the server's last
// adapter to close sends what is queued and ends the shared
// subscriptions.
func (a *ShardedAdapter) Close() error {
	var err error
	a.closeOnce.Do(func() {
		_ = a.Adapter.Close()
		a.mu.Lock()
		rooms := a.roomSubs
		a.roomSubs = map[string]bool{}
		a.mu.Unlock()
		for room := range rooms {
			a.hub.unsubscribe(a, a.roomChannel(room))
		}
		a.hub.unsubscribe(a, a.channel)
		a.hub.unsubscribe(a, a.responseChannel)
		if a.servers.Release(a.host.Server()) {
			err = a.hub.close()
		}
	})
	return err
}
