package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"github.com/sio-dev/sio/runtime/internal/siolog"
	"log/slog"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
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
func NewSharded(client redis.UniversalClient, opts *ShardedOptions) func(*socketio.Namespace) socketio.Adapter {
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
	servers := &hubs[*shardHub]{}
	return func(n *socketio.Namespace) socketio.Adapter { return newShardedAdapter(n, client, o, servers) }
}

// Message types of the reference's cluster adapter protocol.
const (
	msgBroadcast              = 3
	msgSocketsJoin            = 4
	msgSocketsLeave           = 5
	msgDisconnectSockets      = 6
	msgFetchSockets           = 7
	msgFetchSocketsResponse   = 8
	msgServerSideEmit         = 9
	msgServerSideEmitResponse = 10
	msgBroadcastClientCount   = 11
	msgBroadcastAck           = 12
)

// ShardedAdapter is the sharded Redis adapter of one namespace.
type ShardedAdapter struct {
	*socketio.MemoryAdapter
	nsp  *socketio.Namespace
	rdb  redis.UniversalClient
	opts ShardedOptions
	uid  string

	channel, responseChannel string

	hub     *shardHub // shared by the server's namespaces
	servers *hubs[*shardHub]
	ctx     context.Context // ends with Close
	cancel  context.CancelFunc

	reqs      *requestTable
	closeOnce sync.Once

	// mu guards roomSubs, the rooms whose channel this node subscribes to.
	mu       sync.Mutex
	roomSubs map[string]bool
}

var _ socketio.Adapter = (*ShardedAdapter)(nil)

func newShardedAdapter(n *socketio.Namespace, rdb redis.UniversalClient, o ShardedOptions, servers *hubs[*shardHub]) *ShardedAdapter {
	a := &ShardedAdapter{
		MemoryAdapter: socketio.NewMemoryAdapter(n),
		nsp:           n,
		rdb:           rdb,
		opts:          o,
		uid:           randomID(),
		reqs:          newRequestTable(o.RequestsTimeout),
		roomSubs:      map[string]bool{},
		servers:       servers,
	}
	a.channel = o.ChannelPrefix + "#" + n.Name() + "#"
	a.responseChannel = a.channel + a.uid + "#"
	a.ctx, a.cancel = context.WithCancel(context.Background()) //sio:root-context: an adapter lives until Close
	a.hub = servers.acquire(n.Server(), func() *shardHub { return newShardHub(rdb, o) })
	// Subscribe before serving, so that this node counts, and hears, from
	// the start.
	a.hub.subscribe(a, a.channel)
	a.hub.subscribe(a, a.responseChannel)
	if o.SubscriptionMode != Static {
		n.OnRoomEvent(a.onRoomEvent)
	}
	return a
}

// onRoomEvent subscribes to the channel of a room that comes to exist on
// this node, before the join that made it returns, and unsubscribes when
// the room is gone.
func (a *ShardedAdapter) onRoomEvent(e socketio.RoomEvent) {
	switch e.Kind {
	case socketio.RoomCreated:
		if a.opts.SubscriptionMode == Dynamic && len(a.SocketRooms(e.Room)) > 0 {
			return // a socket's own room
		}
		a.mu.Lock()
		a.roomSubs[e.Room] = true
		a.mu.Unlock()
		a.hub.subscribe(a, a.roomChannel(e.Room))
	case socketio.RoomDeleted:
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

// broadcastChannel picks the channel of a broadcast without acks: the
// room's own for one room that has one, the namespace's otherwise.
func (a *ShardedAdapter) broadcastChannel(opts socketio.BroadcastOptions) string {
	if len(opts.Rooms) == 1 {
		switch a.opts.SubscriptionMode {
		case Dynamic:
			if !looksLikeSocketID(opts.Rooms[0]) {
				return a.roomChannel(opts.Rooms[0])
			}
		case DynamicPrivate:
			return a.roomChannel(opts.Rooms[0])
		}
	}
	return a.channel
}

// shardedMessage is a message of the cluster protocol; Data depends on
// Type.
type shardedMessage struct {
	UID  string `json:"uid" msgpack:"uid"`
	Nsp  string `json:"nsp" msgpack:"nsp"`
	Type int    `json:"type" msgpack:"type"`
	Data any    `json:"data,omitempty" msgpack:"data,omitempty"`
}

// broadcastData is the data of a broadcast.
type broadcastData struct {
	Packet    *wirePacket `json:"packet" msgpack:"packet"`
	Opts      *wireOpts   `json:"opts" msgpack:"opts"`
	RequestID string      `json:"requestId,omitempty" msgpack:"requestId,omitempty"`
}

// roomsData is the data of the join, leave and disconnect requests.
type roomsData struct {
	Opts  *wireOpts `json:"opts" msgpack:"opts"`
	Rooms []any     `json:"rooms,omitempty" msgpack:"rooms,omitempty"`
	Close bool      `json:"close,omitempty" msgpack:"close,omitempty"`
}

// requestData is the data of a fetch, with its opts, or of a server-side
// emit, with its packet: [event, args...].
type requestData struct {
	Opts      *wireOpts `json:"opts,omitempty" msgpack:"opts,omitempty"`
	RequestID string    `json:"requestId,omitempty" msgpack:"requestId,omitempty"`
	Packet    []any     `json:"packet,omitempty" msgpack:"packet,omitempty"`
}

// responseData is the data of every answer; which fields count depends
// on the type. ClientCount is always sent: zero clients is an answer.
type responseData struct {
	RequestID   string `json:"requestId" msgpack:"requestId"`
	ClientCount *int   `json:"clientCount,omitempty" msgpack:"clientCount,omitempty"`
	Packet      any    `json:"packet,omitempty" msgpack:"packet,omitempty"`
	Sockets     []any  `json:"sockets,omitempty" msgpack:"sockets,omitempty"`
}

// encodeSharded encodes a message as the reference does: msgpack when it
// carries binary, JSON otherwise.
func encodeSharded(m *shardedMessage, binary bool) ([]byte, error) {
	if binary {
		return msgpack.Marshal(m)
	}
	return json.Marshal(m)
}

// decodeSharded decodes a message's envelope and then its data into v,
// picked by the type.
func decodeSharded(payload []byte, v func(typ int) any) (*shardedMessage, error) {
	if len(payload) > 0 && payload[0] == '{' {
		var env struct {
			shardedMessage
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, err
		}
		m := env.shardedMessage
		if m.Data = v(m.Type); m.Data != nil && len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, m.Data); err != nil {
				return nil, err
			}
		}
		return &m, nil
	}
	var env struct {
		UID  string             `msgpack:"uid"`
		Nsp  string             `msgpack:"nsp"`
		Type int                `msgpack:"type"`
		Data msgpack.RawMessage `msgpack:"data"`
	}
	if err := msgpack.Unmarshal(payload, &env); err != nil {
		return nil, err
	}
	m := &shardedMessage{UID: env.UID, Nsp: env.Nsp, Type: env.Type}
	if m.Data = v(m.Type); m.Data != nil && len(env.Data) > 0 {
		if err := msgpack.Unmarshal(env.Data, m.Data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// dataFor returns where a message type's data decodes to.
func dataFor(typ int) any {
	switch typ {
	case msgBroadcast:
		return &broadcastData{}
	case msgSocketsJoin, msgSocketsLeave, msgDisconnectSockets:
		return &roomsData{}
	case msgFetchSockets, msgServerSideEmit:
		return &requestData{}
	case msgFetchSocketsResponse, msgServerSideEmitResponse, msgBroadcastClientCount, msgBroadcastAck:
		return &responseData{}
	}
	return nil
}

// publish queues a message for channel; it never waits for Redis.
func (a *ShardedAdapter) publish(channel string, typ int, data any, binary bool) {
	payload, err := encodeSharded(&shardedMessage{UID: a.uid, Nsp: a.nsp.Name(), Type: typ, Data: data}, binary)
	if err != nil {
		a.opts.Logger.Debug("redisadapter: encode", "type", typ, "err", err)
		return
	}
	a.hub.pub.send(channel, a.channel, payload)
}

// Dropped reports how many messages for other nodes the adapters of this
// server have dropped since it started, because Redis was unreachable for
// longer than the queue's bound (ShardedOptions.MaxQueueAge,
// MaxQueueBytes) or the server closed before Redis took them.
func (a *ShardedAdapter) Dropped() uint64 { return a.hub.pub.dropped.Load() }

// respond answers the node uid on its own channel.
func (a *ShardedAdapter) respond(uid string, typ int, data *responseData, binary bool) {
	a.publish(a.channel+uid+"#", typ, data, binary)
}

// onRaw handles what a subscription delivers.
func (a *ShardedAdapter) onRaw(channel string, payload []byte) {
	m, err := decodeSharded(payload, dataFor)
	if err != nil || m.UID == a.uid || m.Nsp != a.nsp.Name() {
		return
	}
	if res, ok := m.Data.(*responseData); ok {
		if channel == a.responseChannel {
			a.onResponse(m.Type, res)
		}
		return
	}
	switch d := m.Data.(type) {
	case *broadcastData:
		a.onBroadcast(m.UID, d)
	case *roomsData:
		if d.Opts == nil {
			return // no selection is not "every socket"
		}
		opts := fromWireOpts(d.Opts)
		opts.Flags.Local = true
		switch m.Type {
		case msgSocketsJoin:
			a.MemoryAdapter.AddSockets(opts, stringsOf(d.Rooms))
		case msgSocketsLeave:
			a.MemoryAdapter.DelSockets(opts, stringsOf(d.Rooms))
		case msgDisconnectSockets:
			a.MemoryAdapter.DisconnectSockets(opts, d.Close)
		}
	case *requestData:
		switch m.Type {
		case msgFetchSockets:
			a.onFetchSockets(m.UID, d)
		case msgServerSideEmit:
			a.onServerSideEmit(m.UID, d)
		}
	}
}

// onBroadcast delivers another node's broadcast here.
func (a *ShardedAdapter) onBroadcast(from string, d *broadcastData) {
	if d.Packet == nil {
		return
	}
	p, err := fromWirePacket(d.Packet)
	if err != nil {
		return
	}
	p.Namespace = a.nsp.Name()
	opts := fromWireOpts(d.Opts)
	opts.Flags.Local = true
	if d.RequestID == "" {
		p.HasID = false
		_ = a.MemoryAdapter.Broadcast(&p, opts)
		return
	}
	// The sender's ack id means nothing here; this node numbers its copy.
	p.ID, p.HasID = a.nsp.NewAckID(), true
	requestID := d.RequestID
	_ = a.MemoryAdapter.BroadcastWithAck(&p, opts, func(n int) {
		a.respond(from, msgBroadcastClientCount, &responseData{RequestID: requestID, ClientCount: &n}, false)
	}, func(args socketio.Args) {
		first := firstValue(args)
		a.respond(from, msgBroadcastAck, &responseData{RequestID: requestID, Packet: first}, hasBinary(first))
	})
}

// firstValue is an ack's first argument as a plain value, binary as
// []byte; nil if there is none.
func firstValue(args socketio.Args) any {
	var v any
	if args.Len() > 0 {
		_ = args.Decode(0, &v)
	}
	return plainNumbers(v)
}

// hasBinary reports whether v holds a []byte anywhere.
func hasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

func (a *ShardedAdapter) onFetchSockets(from string, d *requestData) {
	infos, _ := a.MemoryAdapter.FetchSockets(a.ctx, fromWireOpts(d.Opts))
	sockets := make([]any, 0, len(infos))
	for _, s := range toWireSockets(infos) {
		sockets = append(sockets, s)
	}
	a.respond(from, msgFetchSocketsResponse, &responseData{RequestID: d.RequestID, Sockets: sockets}, false)
}

func (a *ShardedAdapter) onServerSideEmit(from string, d *requestData) {
	if len(d.Packet) == 0 {
		return
	}
	event, ok := d.Packet[0].(string)
	if !ok {
		return
	}
	args, ok := argsOf(d.Packet[1:])
	if !ok {
		return
	}
	var ack socketio.Ack
	if d.RequestID != "" {
		ack = answerOnce(func(first any) {
			a.respond(from, msgServerSideEmitResponse, &responseData{RequestID: d.RequestID, Packet: first}, hasBinary(first))
		})
	}
	a.nsp.DispatchServerSideEmit(event, args, ack)
}

// onResponse matches another node's answer to what this node asked.
func (a *ShardedAdapter) onResponse(typ int, res *responseData) {
	if ack := a.reqs.ack(res.RequestID); ack != nil {
		switch typ {
		case msgBroadcastClientCount:
			if res.ClientCount != nil {
				ack.onSent(*res.ClientCount)
			}
		case msgBroadcastAck:
			if args, ok := argsOf([]any{res.Packet}); ok {
				ack.onAck(args)
			}
		}
		return
	}
	a.reqs.answer(res.RequestID, func(p *pending) bool {
		switch {
		case typ == msgFetchSocketsResponse && p.typ == msgFetchSockets:
			p.sockets = append(p.sockets, socketsOf(res.Sockets)...)
		case typ == msgServerSideEmitResponse && p.typ == msgServerSideEmit:
			if args, ok := argsOf([]any{res.Packet}); ok {
				p.answers = append(p.answers, args)
			}
		default:
			return false
		}
		return true
	})
}

// socketsOf reads the sockets of a fetch answer, which arrive as JSON
// objects or msgpack maps.
func socketsOf(list []any) []socketio.SocketInfo {
	out := make([]socketio.SocketInfo, 0, len(list))
	for _, v := range list {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		var s wireSocket
		if json.Unmarshal(b, &s) == nil {
			out = append(out, fromWireSocket(s))
		}
	}
	return out
}

// Broadcast implements socketio.Adapter: the packet goes to the other
// nodes, then to this node's sockets.
func (a *ShardedAdapter) Broadcast(p *siopacket.Packet, opts socketio.BroadcastOptions) error {
	if !opts.Flags.Local {
		wp, err := toWirePacket(p)
		if err != nil {
			return err
		}
		a.publish(a.broadcastChannel(opts), msgBroadcast, &broadcastData{Packet: wp, Opts: toWireOpts(opts)}, len(p.Attachments) > 0)
	}
	return a.MemoryAdapter.Broadcast(p, opts)
}

// BroadcastWithAck implements socketio.Adapter: the other nodes report
// their client counts and relay their clients' acks to this node.
func (a *ShardedAdapter) BroadcastWithAck(p *siopacket.Packet, opts socketio.BroadcastOptions, onSent func(int), onAck func(socketio.Args)) error {
	if !opts.Flags.Local {
		wp, err := toWirePacket(p)
		if err != nil {
			return err
		}
		id := randomID()
		a.reqs.addAck(id, onSent, onAck, opts.Flags.Timeout)
		// Broadcasts with acks take the namespace's channel: every node
		// must report its count, holding the room or not.
		a.publish(a.channel, msgBroadcast, &broadcastData{Packet: wp, Opts: toWireOpts(opts), RequestID: id}, len(p.Attachments) > 0)
	}
	return a.MemoryAdapter.BroadcastWithAck(p, opts, onSent, onAck)
}

// randomID returns 16 hex digits, the reference's form of node and
// request ids.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ask publishes a request and waits for the other nodes' answers.
func (a *ShardedAdapter) ask(ctx context.Context, typ int, data *requestData, binary bool) ([]socketio.SocketInfo, []socketio.Args, error) {
	servers, err := a.ServerCount(ctx)
	if err != nil {
		return nil, nil, err
	}
	data.RequestID = randomID()
	return a.reqs.ask(ctx, servers, typ, data.RequestID, func() { a.publish(a.channel, typ, data, binary) })
}

// FetchSockets implements socketio.Adapter.
func (a *ShardedAdapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	remote, _, err := a.ask(ctx, msgFetchSockets, &requestData{Opts: toWireOpts(opts)}, false)
	return append(local, remote...), err
}

// AddSockets implements socketio.Adapter.
func (a *ShardedAdapter) AddSockets(opts socketio.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.publish(a.channel, msgSocketsJoin, &roomsData{Opts: toWireOpts(opts), Rooms: anyOf(rooms)}, false)
	}
	a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets implements socketio.Adapter.
func (a *ShardedAdapter) DelSockets(opts socketio.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.publish(a.channel, msgSocketsLeave, &roomsData{Opts: toWireOpts(opts), Rooms: anyOf(rooms)}, false)
	}
	a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets implements socketio.Adapter.
func (a *ShardedAdapter) DisconnectSockets(opts socketio.BroadcastOptions, close bool) {
	if !opts.Flags.Local {
		a.publish(a.channel, msgDisconnectSockets, &roomsData{Opts: toWireOpts(opts), Close: close}, false)
	}
	a.MemoryAdapter.DisconnectSockets(opts, close)
}

// ServerSideEmit implements socketio.Adapter.
func (a *ShardedAdapter) ServerSideEmit(ctx context.Context, event string, args []any, wantAcks bool) ([]socketio.Args, error) {
	packet := append([]any{event}, args...)
	binary := hasBinary(packet)
	if !wantAcks {
		a.publish(a.channel, msgServerSideEmit, &requestData{Packet: packet}, binary)
		return nil, nil
	}
	_, answers, err := a.ask(ctx, msgServerSideEmit, &requestData{Packet: packet}, binary)
	return answers, err
}

// ServerCount implements socketio.Adapter: the subscribers of the
// namespace's channel, every node of every language.
func (a *ShardedAdapter) ServerCount(ctx context.Context) (int, error) {
	counts, err := shardNumSub(ctx, a.rdb, a.channel)
	if err != nil {
		return 1, err
	}
	return max(1, int(counts)), nil
}

// Close implements socketio.Adapter: it unsubscribes; the server's last
// adapter to close sends what is queued and ends the shared
// subscriptions.
func (a *ShardedAdapter) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.cancel()
		a.mu.Lock()
		rooms := a.roomSubs
		a.roomSubs = map[string]bool{}
		a.mu.Unlock()
		for room := range rooms {
			a.hub.unsubscribe(a, a.roomChannel(room))
		}
		a.hub.unsubscribe(a, a.channel)
		a.hub.unsubscribe(a, a.responseChannel)
		if a.servers.release(a.nsp.Server()) {
			err = a.hub.close()
		}
	})
	return err
}
