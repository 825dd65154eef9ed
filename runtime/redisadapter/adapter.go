// Package redisadapter is a sioadapter.Adapter for several nodes sharing a
// Redis server, wire-compatible with the npm @socket.io/redis-adapter 8:
// Go and Node nodes can share one cluster, and @socket.io/redis-emitter
// can emit into it.
//
// Broadcasts are published on "<key>#<nsp>#" (or "<key>#<nsp>#<room>#" for
// one room) as msgpack [uid, packet, options]; cluster operations are
// requests on "<key>-request#<nsp>#" answered on "<key>-response#<nsp>#".
// The number of nodes is the number of subscribers of the request channel,
// so a node whose Redis connection dies stops counting at once.
//
// All the namespaces of a server share one subscriber connection, one
// goroutine reading it and one publish queue, however many namespaces
// there are.
//
// Local delivery never waits for Redis: what goes to other nodes is
// queued and published in order by one goroutine. When Redis is
// unreachable, the queue keeps what is published meanwhile, up to
// Options.MaxQueueBytes and for at most Options.MaxQueueAge, and sends it
// once Redis is back and as many nodes as it last counted have
// resubscribed (for at most 3s); past that bound messages are dropped, logged and counted
// (Adapter.Dropped). Cluster requests keep their timeouts, and broadcasts
// are not recorded for connection state recovery while Redis is away. An
// outage shorter than the client's own redialling (go-redis holds a
// command while it retries) is not seen as one, and what is published
// while the other nodes resubscribe may reach only some of them. The
// client reconnects and resubscribes by itself.
//
// NewSharded is the other adapter: Redis sharded pub/sub, as the
// reference's createShardedAdapter, for Redis 7 and Redis Cluster.
package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/internal/siolog"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Options configures the adapter. The zero value has the reference's
// defaults.
type Options struct {
	// Key prefixes every channel. Default "socket.io".
	Key string
	// RequestsTimeout bounds cluster requests (FetchSockets,
	// ServerSideEmit with acks). Default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel answers each node on its own
	// response channel instead of the shared one.
	PublishOnSpecificResponseChannel bool
	// Logger receives Redis errors and dropped messages. Default:
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// MaxQueueBytes bounds the payloads waiting to be published, for
	// every namespace of a server together. Default 8 MiB.
	MaxQueueBytes int
	// MaxQueueAge is the longest a message waits to be published, while
	// Redis is unreachable; older ones are dropped. Default 10s.
	MaxQueueAge time.Duration
	// RecordTimeout bounds how long a broadcast waits for Redis to record
	// it for connection state recovery before it is sent unrecorded (and
	// recording pauses until Redis answers the publisher again), so that
	// local delivery never waits for a broker that has gone away.
	// Default 100ms.
	RecordTimeout time.Duration
}

// defaultRecordTimeout is Options.RecordTimeout's default: far above a
// healthy XADD (well under a millisecond on a LAN), far below a pause
// people notice.
const defaultRecordTimeout = 100 * time.Millisecond

// New returns an adapter factory for socketio.Options.Adapter. client
// publishes and runs commands; the adapters of one server share one
// subscriber connection on it, opened with the first namespace and closed
// with the last (the server's Close), which first sends what is queued,
// within RequestsTimeout. Close the server before the client.
func New(client redis.UniversalClient, opts *Options) sioadapter.Factory {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Key == "" {
		o.Key = "socket.io"
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
	if o.RecordTimeout <= 0 {
		o.RecordTimeout = defaultRecordTimeout
	}
	servers := &sioadapter.Shared[*hub]{}
	return func(h sioadapter.Host) sioadapter.Adapter { return newAdapter(h, client, o, servers) }
}

// Adapter is the Redis adapter of one namespace.
type Adapter struct {
	*sioadapter.Memory
	host sioadapter.Host
	rdb  redis.UniversalClient
	opts Options
	uid  string

	channel, requestChannel, responseChannel, specificResponseChannel string

	hub     *hub // shared by the server's namespaces
	servers *sioadapter.Shared[*hub]
	ctx     context.Context // ends with Close
	cancel  context.CancelFunc

	reqs      *requestTable
	live      liveSessions
	closeOnce sync.Once
}

var _ sioadapter.Adapter = (*Adapter)(nil)

func newUID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newAdapter(h sioadapter.Host, rdb redis.UniversalClient, o Options, servers *sioadapter.Shared[*hub]) *Adapter {
	a := &Adapter{
		Memory:  sioadapter.NewMemory(h),
		host:    h,
		rdb:     rdb,
		opts:    o,
		uid:     newUID(),
		reqs:    newRequestTable(o.RequestsTimeout),
		servers: servers,
	}
	a.channel = o.Key + "#" + h.Name() + "#"
	a.requestChannel = o.Key + "-request#" + h.Name() + "#"
	a.responseChannel = o.Key + "-response#" + h.Name() + "#"
	a.specificResponseChannel = a.responseChannel + a.uid + "#"
	a.ctx, a.cancel = context.WithCancel(context.Background()) //sio:root-context: an adapter lives until Close
	a.hub = servers.Acquire(h.Server(), func() *hub { return newHub(rdb, o) })
	a.hub.add(a)
	return a
}

// dispatch handles what Redis delivers on one of a's channels.
func (a *Adapter) dispatch(msg *redis.Message) {
	payload := []byte(msg.Payload)
	switch {
	case msg.Pattern != "":
		a.onBroadcast(msg.Channel, payload)
	case strings.HasPrefix(msg.Channel, a.responseChannel):
		a.onResponse(payload)
	case msg.Channel == a.requestChannel:
		a.onRequest(payload)
	}
}

// Dropped reports how many messages for other nodes the adapters of this
// server have dropped since it started, because Redis was unreachable for
// longer than the queue's bound (Options.MaxQueueAge, MaxQueueBytes) or
// the server closed before Redis took them.
func (a *Adapter) Dropped() uint64 { return a.hub.pub.dropped.Load() }

// publish queues payload for channel; it never waits for Redis.
func (a *Adapter) publish(channel string, payload []byte) {
	a.hub.pub.send(channel, a.requestChannel, payload)
}

func (a *Adapter) publishJSON(channel string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		a.publish(channel, b)
	}
}

// Broadcast implements sioadapter.Adapter: local delivery, then the packet
// goes to the other nodes.
func (a *Adapter) Broadcast(p *siopacket.Packet, opts sioadapter.BroadcastOptions) error {
	if !opts.Flags.Local {
		wp, err := adapterwire.ToPacket(p)
		if err != nil {
			return err
		}
		msg, err := msgpack.Marshal([]any{a.uid, wp, adapterwire.ToOpts(opts)})
		if err != nil {
			return err
		}
		channel := a.channel
		if len(opts.Rooms) == 1 {
			channel += opts.Rooms[0] + "#"
		}
		a.publish(channel, msg)
	}
	return a.Memory.Broadcast(p, opts)
}

// onBroadcast delivers a broadcast published by another node.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	if room := strings.TrimSuffix(strings.TrimPrefix(channel, a.channel), "#"); room != "" && len(a.Sockets([]string{room})) == 0 {
		return // nobody here is in that room
	}
	var msg []msgpack.RawMessage
	if err := adapterwire.UnmarshalMsgpack(payload, &msg); err != nil || len(msg) < 3 {
		return
	}
	var uid string
	var wp adapterwire.Packet
	var wo adapterwire.Opts
	if adapterwire.UnmarshalMsgpack(msg[0], &uid) != nil || uid == a.uid || adapterwire.UnmarshalMsgpack(msg[1], &wp) != nil || adapterwire.UnmarshalMsgpack(msg[2], &wo) != nil {
		return
	}
	if wp.Nsp == "" {
		wp.Nsp = "/"
	}
	if wp.Nsp != a.host.Name() {
		return
	}
	p, err := adapterwire.FromPacket(&wp)
	if err != nil {
		return
	}
	opts := adapterwire.FromOpts(&wo)
	opts.Flags.Local = true
	_ = a.Memory.Broadcast(&p, opts)
}

// BroadcastWithAck implements sioadapter.Adapter: other nodes report their
// client counts and relay their clients' acks on the response channel.
func (a *Adapter) BroadcastWithAck(p *siopacket.Packet, opts sioadapter.BroadcastOptions, onSent func(int), onAck func(siopacket.Args)) error {
	if !opts.Flags.Local {
		wp, err := adapterwire.ToPacket(p)
		if err != nil {
			return err
		}
		id := newUID()
		msg, err := msgpack.Marshal(&request{UID: a.uid, RequestID: id, Type: typeBroadcast, Packet: wp, Opts: adapterwire.ToOpts(opts)})
		if err != nil {
			return err
		}
		a.reqs.addAck(id, onSent, onAck, opts.Flags.Timeout)
		a.publish(a.requestChannel, msg)
	}
	return a.Memory.BroadcastWithAck(p, opts, onSent, onAck)
}

// onRequest serves another node's request.
func (a *Adapter) onRequest(payload []byte) {
	var req request
	if err := decodeMessage(payload, &req); err != nil {
		return
	}
	if payload[0] != '{' {
		// Broadcast requests are msgpack; read the packet with its binary.
		var raw map[string]msgpack.RawMessage
		if adapterwire.UnmarshalMsgpack(payload, &raw) == nil && raw["packet"] != nil {
			req.Packet = &adapterwire.Packet{}
			_ = adapterwire.UnmarshalMsgpack(raw["packet"], req.Packet)
		}
	}
	if req.UID == a.uid {
		return // our own request, already applied locally
	}
	switch req.Type {
	case typeSockets:
		var rooms []string
		if req.Opts != nil {
			rooms = adapterwire.Strings(req.Opts.Rooms)
		} else {
			rooms = adapterwire.Strings(req.Rooms)
		}
		a.respond(req, map[string]any{"requestId": req.RequestID, "sockets": a.Sockets(rooms)})
	case typeAllRooms:
		a.respond(req, map[string]any{"requestId": req.RequestID, "rooms": a.localRooms()})
	case typeRemoteJoin, typeRemoteLeave, typeRemoteDisconnect:
		a.applyRemote(req)
	case typeRemoteFetch:
		infos, _ := a.Memory.FetchSockets(a.ctx, adapterwire.FromOpts(req.Opts))
		a.respond(req, map[string]any{"requestId": req.RequestID, "sockets": adapterwire.ToSockets(infos)})
	case typeServerSideEmit:
		a.onServerSideEmit(req)
	case typeBroadcast:
		if req.Packet == nil {
			return
		}
		p, err := adapterwire.FromPacket(req.Packet)
		if err != nil {
			return
		}
		// The sender publishes before numbering the packet; each node
		// numbers its own copy.
		p.ID, p.HasID = a.host.NewAckID(), true
		opts := adapterwire.FromOpts(req.Opts)
		opts.Flags.Local = true
		_ = a.Memory.BroadcastWithAck(&p, opts, func(n int) {
			a.respond(req, map[string]any{"type": typeBroadcastClientCount, "requestId": req.RequestID, "clientCount": n})
		}, func(args siopacket.Args) {
			var first any
			_ = args.Decode(0, &first)
			msg, err := msgpack.Marshal(&response{Type: typeBroadcastAck, RequestID: req.RequestID, Packet: first})
			if err == nil {
				a.publish(a.responseChannelFor(req), msg)
			}
		})
	}
}

func (a *Adapter) applyRemote(req request) {
	if req.Opts == nil {
		// The older form targets one socket by id; the node that has it
		// (every socket is in the room of its id) answers.
		if len(a.SocketRooms(req.SID)) == 0 {
			return
		}
		ids := []string{req.SID}
		switch req.Type {
		case typeRemoteJoin:
			a.host.Join(ids, []string{adapterwire.RoomName(req.Room)})
		case typeRemoteLeave:
			a.host.Leave(ids, []string{adapterwire.RoomName(req.Room)})
		case typeRemoteDisconnect:
			a.host.Disconnect(ids, req.Close)
		}
		a.respond(req, map[string]any{"requestId": req.RequestID})
		return
	}
	opts := adapterwire.FromOpts(req.Opts)
	switch req.Type {
	case typeRemoteJoin:
		a.Memory.AddSockets(opts, adapterwire.Strings(req.Rooms))
	case typeRemoteLeave:
		a.Memory.DelSockets(opts, adapterwire.Strings(req.Rooms))
	case typeRemoteDisconnect:
		a.Memory.DisconnectSockets(opts, req.Close)
	}
}

func (a *Adapter) localRooms() []string {
	seen := map[string]bool{}
	var rooms []string
	for _, id := range a.Sockets(nil) {
		for _, r := range a.SocketRooms(id) {
			if !seen[r] {
				seen[r] = true
				rooms = append(rooms, r)
			}
		}
	}
	return rooms
}

func (a *Adapter) responseChannelFor(req request) string {
	if a.opts.PublishOnSpecificResponseChannel {
		return a.responseChannel + req.UID + "#"
	}
	return a.responseChannel
}

func (a *Adapter) respond(req request, v any) { a.publishJSON(a.responseChannelFor(req), v) }

// onResponse matches another node's answer to a pending request.
func (a *Adapter) onResponse(payload []byte) {
	var res response
	if err := decodeMessage(payload, &res); err != nil || res.RequestID == "" {
		return
	}
	if ack := a.reqs.ack(res.RequestID); ack != nil {
		switch res.Type {
		case typeBroadcastClientCount:
			ack.onSent(res.ClientCount)
		case typeBroadcastAck:
			if args, ok := adapterwire.Args([]any{res.Packet}); ok {
				ack.onAck(args)
			}
		}
		return
	}
	a.reqs.answer(res.RequestID, func(p *pending) bool {
		switch p.typ {
		case typeRemoteFetch:
			for _, s := range res.Sockets {
				p.sockets = append(p.sockets, adapterwire.FromSocket(s))
			}
		case typeServerSideEmit:
			data := res.Data
			if len(data) == 0 {
				data = json.RawMessage("null")
			}
			if args, err := siopacket.ParseArgs(append(append([]byte("["), data...), ']'), nil); err == nil {
				p.answers = append(p.answers, args)
			}
		}
		return true
	})
}

// ask publishes a request and waits for the other nodes' answers.
func (a *Adapter) ask(ctx context.Context, typ int, body map[string]any) ([]sioadapter.SocketInfo, []siopacket.Args, error) {
	servers, err := a.ServerCount(ctx)
	if err != nil {
		return nil, nil, err
	}
	id := newUID()
	body["uid"], body["requestId"], body["type"] = a.uid, id, typ
	return a.reqs.ask(ctx, servers, typ, id, func() { a.publishJSON(a.requestChannel, body) })
}

// FetchSockets implements sioadapter.Adapter.
func (a *Adapter) FetchSockets(ctx context.Context, opts sioadapter.BroadcastOptions) ([]sioadapter.SocketInfo, error) {
	local, _ := a.Memory.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	remote, _, err := a.ask(ctx, typeRemoteFetch, map[string]any{"opts": adapterwire.ToOpts(opts)})
	return append(local, remote...), err
}

// AddSockets implements sioadapter.Adapter.
func (a *Adapter) AddSockets(opts sioadapter.BroadcastOptions, rooms []string) {
	a.Memory.AddSockets(opts, rooms)
	if !opts.Flags.Local {
		a.publishJSON(a.requestChannel, map[string]any{"uid": a.uid, "type": typeRemoteJoin, "opts": adapterwire.ToOpts(opts), "rooms": rooms})
	}
}

// DelSockets implements sioadapter.Adapter.
func (a *Adapter) DelSockets(opts sioadapter.BroadcastOptions, rooms []string) {
	a.Memory.DelSockets(opts, rooms)
	if !opts.Flags.Local {
		a.publishJSON(a.requestChannel, map[string]any{"uid": a.uid, "type": typeRemoteLeave, "opts": adapterwire.ToOpts(opts), "rooms": rooms})
	}
}

// DisconnectSockets implements sioadapter.Adapter.
func (a *Adapter) DisconnectSockets(opts sioadapter.BroadcastOptions, close bool) {
	if !opts.Flags.Local {
		a.publishJSON(a.requestChannel, map[string]any{"uid": a.uid, "type": typeRemoteDisconnect, "opts": adapterwire.ToOpts(opts), "close": close})
	}
	a.Memory.DisconnectSockets(opts, close)
}

// ServerSideEmit implements sioadapter.Adapter.
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args []any, wantAcks bool) ([]siopacket.Args, error) {
	data := append([]any{event}, args...)
	if !wantAcks {
		a.publishJSON(a.requestChannel, map[string]any{"uid": a.uid, "type": typeServerSideEmit, "data": data})
		return nil, nil
	}
	_, answers, err := a.ask(ctx, typeServerSideEmit, map[string]any{"data": data})
	return answers, err
}

func (a *Adapter) onServerSideEmit(req request) {
	var data []json.RawMessage
	if json.Unmarshal(req.Data, &data) != nil || len(data) == 0 {
		return
	}
	var event string
	if json.Unmarshal(data[0], &event) != nil {
		return
	}
	rest, _ := json.Marshal(data[1:])
	args, err := siopacket.ParseArgs(rest, nil)
	if err != nil {
		return
	}
	var ack func(args ...any) error
	if req.RequestID != "" {
		ack = adapterwire.AnswerOnce(func(first any) {
			a.publishJSON(a.responseChannel, map[string]any{"type": typeServerSideEmit, "requestId": req.RequestID, "data": first})
		})
	}
	a.host.ServerSideEmit(event, args, ack)
}

// ServerCount implements sioadapter.Adapter: the subscribers of the request
// channel, every node of every language.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	counts, err := a.rdb.PubSubNumSub(ctx, a.requestChannel).Result()
	if err != nil {
		return 1, err
	}
	return max(1, int(counts[a.requestChannel])), nil
}

// Close implements sioadapter.Adapter: it unsubscribes; the server's last
// adapter to close sends what is queued and closes the shared connection.
func (a *Adapter) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.cancel()
		a.hub.remove(a)
		if a.servers.Release(a.host.Server()) {
			err = a.hub.close()
		}
	})
	return err
}
