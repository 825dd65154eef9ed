// Package clusteradapter is the cluster protocol of the npm socket.io-adapter
// package (its ClusterAdapter and ClusterAdapterWithHeartbeat), apart from
// any broker: a sioadapter.Adapter that keeps its namespace's rooms in memory
// and tells the other nodes what it cannot do alone, as Messages that a
// Transport carries. Broadcasts (with acks and client counts), sockets
// joining, leaving and being disconnected, fetchSockets and server-side
// emits with answers work across the nodes of every language that speak
// the protocol over the same broker.
//
// A transport calls New with itself, hands what it receives to
// Adapter.OnMessage (and answers meant for this node to OnResponse), and
// then, with heartbeats, calls Init. The sharded Redis adapter
// (redisadapter.NewSharded) and the Redis Streams adapter
// (redisstreamsadapter) are such transports.
package clusteradapter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// Transport carries an adapter's messages to the other nodes of its
// namespace. Its methods are called on the goroutine of the operation
// that sends (a broadcast, a join), so a transport that may wait for its
// broker should bound the wait, or queue.
type Transport interface {
	// Publish sends m to every node of the namespace. It returns m's
	// offset if the transport keeps messages in a log that a client can
	// resume from (a Redis stream's entry id), "" otherwise. The adapter
	// appends a broadcast's offset to what its clients receive, for
	// connection state recovery; the clients of the other nodes get the
	// offset given to OnMessage. A transport with offsets keeps the
	// sessions too: it overrides the embedded Memory's
	// sioadapter.SessionStore methods, its Record doing nothing, since
	// the memory adapter's offsets mean nothing on another node.
	Publish(ctx context.Context, m *Message) (offset string, err error)
	// PublishResponse sends m, an answer, to node uid alone.
	PublishResponse(ctx context.Context, uid string, m *Message) error
}

// Enqueuer is a Transport that can also take a message and return at
// once, sending it later, in order with everything it publishes. The
// adapter enqueues what needs no offset and no answer (broadcasts that
// connection state recovery does not keep, joins, leaves, disconnects,
// server-side emits without acks, heartbeats), so that the operation's
// goroutine never waits for the broker for them; it still publishes, and
// waits, when it needs the offset. A transport that queues bounds its
// queue, and drops, counts and logs what does not fit.
type Enqueuer interface {
	// Enqueue queues m for every node of the namespace. An error means m
	// will not be sent.
	Enqueue(m *Message) error
}

// ServerCounter is a Transport that can count the nodes of a namespace
// itself (Redis counts the subscribers of a channel). Without heartbeats
// the adapter asks it; a transport that is not one counts as one node.
type ServerCounter interface {
	ServerCount(ctx context.Context) (int, error)
}

// Options configures New. The zero value has the reference's defaults.
type Options struct {
	// RequestsTimeout bounds cluster requests (FetchSockets, ServerSideEmit
	// with answers), broadcast acks without a timeout of their own, and
	// each publish. Default 5s.
	RequestsTimeout time.Duration
	// Heartbeat, if set, makes the adapter a ClusterAdapterWithHeartbeat:
	// nodes announce themselves and beat, and the server count is the
	// nodes heard from recently, not the transport's count.
	Heartbeat *HeartbeatOptions
	// Logger receives dropped messages (at debug level). Default:
	// slog.Default().
	Logger *slog.Logger
}

// HeartbeatOptions configures heartbeats. The zero value has the
// reference's defaults.
type HeartbeatOptions struct {
	// Interval is how long a node stays silent before it sends a
	// heartbeat. Default 5s.
	Interval time.Duration
	// Timeout is how long a node may stay silent before the others count
	// it gone. Default 10s.
	Timeout time.Duration
}

// emitterUID is the uid of the reference's emitters, which are not nodes.
const emitterUID = "emitter"

// Adapter is the cluster adapter of one namespace. Its sioadapter.Adapter
// methods may be called from many goroutines at once; so may OnMessage
// and OnResponse, but a transport that calls them from one goroutine
// keeps its broker's order.
type Adapter struct {
	*sioadapter.Memory
	host      sioadapter.Host
	transport Transport
	opts      Options
	uid       string
	log       *slog.Logger
	reqs      *requestTable
	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	closeOnce sync.Once

	// With heartbeats: mu guards nodes (uid -> last heard from) and beat,
	// the timer of this node's next heartbeat.
	mu    sync.Mutex
	nodes map[string]time.Time
	beat  *time.Timer
}

var _ sioadapter.Adapter = (*Adapter)(nil)

// New returns the cluster adapter of n, sending through t. The adapter
// starts at once; with heartbeats, call Init once t delivers to it.
func New(h sioadapter.Host, t Transport, opts *Options) *Adapter {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.Heartbeat != nil {
		h := *o.Heartbeat
		if h.Interval <= 0 {
			h.Interval = 5 * time.Second
		}
		if h.Timeout <= 0 {
			h.Timeout = 10 * time.Second
		}
		o.Heartbeat = &h
	}
	a := &Adapter{
		Memory:    sioadapter.NewMemory(h),
		host:      h,
		transport: t,
		opts:      o,
		uid:       adapterwire.RandomID(),
		log:       siolog.Logger("clusteradapter", o.Logger),
		reqs:      newRequestTable(o.RequestsTimeout),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background()) //sio:root-context: an adapter lives until Close
	if o.Heartbeat != nil {
		a.nodes = map[string]time.Time{}
		go a.expireNodes()
	}
	return a
}

// UID returns the node's id in the cluster, which its messages carry.
func (a *Adapter) UID() string { return a.uid }

// Init announces the node to the others (with heartbeats; it does nothing
// otherwise), which answer with a heartbeat each, so that the server
// count is right from the start. Call it once the transport delivers.
func (a *Adapter) Init() {
	if a.opts.Heartbeat != nil {
		a.publish(&Message{Type: InitialHeartbeat})
	}
}

// publish sends m to the other nodes, and returns its offset, "" if it
// has none or was not sent.
func (a *Adapter) publish(m *Message) string {
	m.UID, m.Nsp = a.uid, a.host.Name()
	if a.opts.Heartbeat != nil {
		a.scheduleHeartbeat()
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	offset, err := a.transport.Publish(ctx, m)
	if err != nil {
		a.log.Debug("clusteradapter: publishing", "nsp", m.Nsp, "type", m.Type.String(), "err", err)
		return ""
	}
	return offset
}

// send sends m to the other nodes without waiting for the transport if
// it is an Enqueuer, and publishes it otherwise.
func (a *Adapter) send(m *Message) {
	q, ok := a.transport.(Enqueuer)
	if !ok {
		a.publish(m)
		return
	}
	m.UID, m.Nsp = a.uid, a.host.Name()
	if a.opts.Heartbeat != nil {
		a.scheduleHeartbeat()
	}
	if err := q.Enqueue(m); err != nil {
		a.log.Debug("clusteradapter: enqueueing", "nsp", m.Nsp, "type", m.Type.String(), "err", err)
	}
}

// respond sends an answer to node uid.
func (a *Adapter) respond(uid string, typ MessageType, data *responseData) {
	m := &Message{UID: a.uid, Nsp: a.host.Name(), Type: typ, Data: data}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	if err := a.transport.PublishResponse(ctx, uid, m); err != nil {
		a.log.Debug("clusteradapter: answering", "nsp", m.Nsp, "type", typ.String(), "to", uid, "err", err)
	}
}

// OnMessage handles a message from another node: a transport calls it
// for everything it receives for the namespace (its own messages and
// other namespaces' are ignored here). offset is the message's position
// in the transport's log, "" if it has none. A message whose data does
// not fit its type is dropped.
func (a *Adapter) OnMessage(m *Message, offset string) {
	if m == nil || m.UID == a.uid || m.Nsp != a.host.Name() {
		return
	}
	if a.opts.Heartbeat != nil {
		if m.UID != "" && m.UID != emitterUID {
			a.mu.Lock()
			if a.nodes != nil {
				a.nodes[m.UID] = time.Now()
			}
			a.mu.Unlock()
		}
		switch m.Type {
		case InitialHeartbeat:
			a.send(&Message{Type: Heartbeat})
			return
		case Heartbeat:
			return
		case AdapterClose:
			a.removeNode(m.UID)
			return
		}
	}
	if m.Type.IsResponse() {
		// Some transports do not tell messages from answers.
		a.OnResponse(m)
		return
	}
	switch d := m.Data.(type) {
	case *broadcastData:
		if m.Type == Broadcast {
			a.onBroadcast(m.UID, d, offset)
			return
		}
	case *roomsData:
		if d.Opts == nil {
			break // no selection is not "every socket"
		}
		opts := adapterwire.FromOpts(d.Opts)
		opts.Flags.Local = true
		switch m.Type {
		case SocketsJoin:
			a.Memory.AddSockets(opts, adapterwire.Strings(d.Rooms))
			return
		case SocketsLeave:
			a.Memory.DelSockets(opts, adapterwire.Strings(d.Rooms))
			return
		case DisconnectSockets:
			a.Memory.DisconnectSockets(opts, d.Close)
			return
		}
	case *requestData:
		switch m.Type {
		case FetchSockets:
			a.onFetchSockets(m.UID, d)
			return
		case ServerSideEmit:
			a.onServerSideEmit(m.UID, d)
			return
		}
	}
	a.log.Debug("clusteradapter: message dropped", "nsp", m.Nsp, "type", m.Type.String(), "from", m.UID)
}

// recordable reports whether a broadcast gets an offset: recovery is on
// and the packet is one recovery keeps.
func (a *Adapter) recordable(p *siopacket.Packet, opts sioadapter.BroadcastOptions) bool {
	return a.host.RecoveryWindow() > 0 && sioadapter.Recordable(p, opts)
}

// onBroadcast delivers another node's broadcast here.
func (a *Adapter) onBroadcast(from string, d *broadcastData, offset string) {
	if d.Packet == nil || d.Packet.Type != int(siopacket.Event) || len(d.Packet.Data) == 0 {
		a.log.Debug("clusteradapter: broadcast without an event dropped", "nsp", a.host.Name(), "from", from)
		return
	}
	if _, ok := d.Packet.Data[0].(string); !ok {
		a.log.Debug("clusteradapter: broadcast without an event name dropped", "nsp", a.host.Name(), "from", from)
		return
	}
	p, err := adapterwire.FromPacket(d.Packet)
	if err != nil {
		a.log.Debug("clusteradapter: broadcast dropped", "nsp", a.host.Name(), "from", from, "err", err)
		return
	}
	p.Namespace = a.host.Name()
	opts := adapterwire.FromOpts(d.Opts)
	opts.Flags.Local = true
	if d.RequestID == "" {
		p.HasID = false
		if offset != "" && a.recordable(&p, opts) {
			siopacket.AppendStringArg(&p, offset)
		}
		_ = a.Memory.Broadcast(&p, opts)
		return
	}
	// The sender's ack id means nothing here; this node numbers its copy.
	p.ID, p.HasID = a.host.NewAckID(), true
	requestID := d.RequestID
	_ = a.Memory.BroadcastWithAck(&p, opts, func(n int) {
		a.respond(from, BroadcastClientCount, &responseData{RequestID: requestID, ClientCount: &n})
	}, func(args siopacket.Args) {
		a.respond(from, BroadcastAck, &responseData{RequestID: requestID, Packet: adapterwire.FirstValue(args)})
	})
}

func (a *Adapter) onFetchSockets(from string, d *requestData) {
	infos, _ := a.Memory.FetchSockets(a.ctx, adapterwire.FromOpts(d.Opts))
	sockets := make([]any, 0, len(infos))
	for _, s := range adapterwire.ToSockets(infos) {
		// As plain values, which msgpack writes as the objects JSON would.
		sockets = append(sockets, adapterwire.Plain(s))
	}
	a.respond(from, FetchSocketsResponse, &responseData{RequestID: d.RequestID, Sockets: sockets})
}

func (a *Adapter) onServerSideEmit(from string, d *requestData) {
	if len(d.Packet) == 0 {
		return
	}
	event, ok := d.Packet[0].(string)
	if !ok {
		return
	}
	args, ok := adapterwire.Args(d.Packet[1:])
	if !ok {
		return
	}
	var ack func(args ...any) error
	if d.RequestID != "" {
		requestID := d.RequestID
		ack = adapterwire.AnswerOnce(func(first any) {
			a.respond(from, ServerSideEmitResponse, &responseData{RequestID: requestID, Packet: first})
		})
	}
	a.host.ServerSideEmit(event, args, ack)
}

// OnResponse matches another node's answer to what this node asked. A
// transport calls it for what arrives for this node alone; answers to
// requests no longer waiting are dropped.
func (a *Adapter) OnResponse(m *Message) {
	res, ok := m.Data.(*responseData)
	if !ok || m.UID == a.uid || m.Nsp != a.host.Name() {
		return
	}
	if ack := a.reqs.ack(res.RequestID); ack != nil {
		switch m.Type {
		case BroadcastClientCount:
			if res.ClientCount != nil {
				ack.onSent(*res.ClientCount)
			}
		case BroadcastAck:
			if args, ok := adapterwire.Args([]any{res.Packet}); ok {
				ack.onAck(args)
			}
		}
		return
	}
	a.reqs.answer(res.RequestID, m.UID, func(p *pending) bool {
		switch {
		case m.Type == FetchSocketsResponse && p.typ == FetchSockets:
			p.sockets = append(p.sockets, adapterwire.SocketsOf(res.Sockets)...)
		case m.Type == ServerSideEmitResponse && p.typ == ServerSideEmit:
			if args, ok := adapterwire.Args([]any{res.Packet}); ok {
				p.answers = append(p.answers, args)
			}
		default:
			return false
		}
		return true
	})
}

// Broadcast implements sioadapter.Adapter: the packet goes to the other
// nodes, then to this node's sockets, with the transport's offset as its
// last argument when recovery keeps it. Only then does it wait for the
// transport: otherwise an Enqueuer queues the packet, and this node's
// sockets get it at once.
func (a *Adapter) Broadcast(p *siopacket.Packet, opts sioadapter.BroadcastOptions) error {
	if !opts.Flags.Local {
		wp, err := adapterwire.ToPacket(p)
		if err != nil {
			return err
		}
		m := &Message{Type: Broadcast, Data: &broadcastData{Packet: wp, Opts: adapterwire.ToOpts(opts)}}
		if !a.recordable(p, opts) {
			a.send(m)
		} else if offset := a.publish(m); offset != "" {
			siopacket.AppendStringArg(p, offset)
		}
	}
	return a.Memory.Broadcast(p, opts)
}

// BroadcastWithAck implements sioadapter.Adapter: the other nodes report
// their client counts and relay their clients' acks to this node.
func (a *Adapter) BroadcastWithAck(p *siopacket.Packet, opts sioadapter.BroadcastOptions, onSent func(int), onAck func(siopacket.Args)) error {
	if !opts.Flags.Local {
		wp, err := adapterwire.ToPacket(p)
		if err != nil {
			return err
		}
		id := adapterwire.RandomID()
		a.reqs.addAck(id, onSent, onAck, opts.Flags.Timeout)
		a.publish(&Message{Type: Broadcast, Data: &broadcastData{Packet: wp, Opts: adapterwire.ToOpts(opts), RequestID: id}})
	}
	return a.Memory.BroadcastWithAck(p, opts, onSent, onAck)
}

// ask publishes a request and waits for the other nodes' answers.
func (a *Adapter) ask(ctx context.Context, typ MessageType, data *requestData, timeout time.Duration) ([]sioadapter.SocketInfo, []siopacket.Args, error) {
	var nodes []string
	count := 0
	if a.opts.Heartbeat != nil {
		nodes = a.knownNodes()
	} else {
		servers, err := a.ServerCount(ctx)
		if err != nil {
			return nil, nil, err
		}
		count = servers - 1
	}
	data.RequestID = adapterwire.RandomID()
	return a.reqs.ask(ctx, typ, data.RequestID, count, nodes, timeout, func() { a.publish(&Message{Type: typ, Data: data}) })
}

// FetchSockets implements sioadapter.Adapter.
func (a *Adapter) FetchSockets(ctx context.Context, opts sioadapter.BroadcastOptions) ([]sioadapter.SocketInfo, error) {
	local, _ := a.Memory.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	remote, _, err := a.ask(ctx, FetchSockets, &requestData{Opts: adapterwire.ToOpts(opts)}, opts.Flags.Timeout)
	return append(local, remote...), err
}

// AddSockets implements sioadapter.Adapter.
func (a *Adapter) AddSockets(opts sioadapter.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.send(&Message{Type: SocketsJoin, Data: &roomsData{Opts: adapterwire.ToOpts(opts), Rooms: adapterwire.Anys(rooms)}})
	}
	a.Memory.AddSockets(opts, rooms)
}

// DelSockets implements sioadapter.Adapter.
func (a *Adapter) DelSockets(opts sioadapter.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.send(&Message{Type: SocketsLeave, Data: &roomsData{Opts: adapterwire.ToOpts(opts), Rooms: adapterwire.Anys(rooms)}})
	}
	a.Memory.DelSockets(opts, rooms)
}

// DisconnectSockets implements sioadapter.Adapter.
func (a *Adapter) DisconnectSockets(opts sioadapter.BroadcastOptions, close bool) {
	if !opts.Flags.Local {
		a.send(&Message{Type: DisconnectSockets, Data: &roomsData{Opts: adapterwire.ToOpts(opts), Close: close}})
	}
	a.Memory.DisconnectSockets(opts, close)
}

// ServerSideEmit implements sioadapter.Adapter.
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args []any, wantAcks bool) ([]siopacket.Args, error) {
	packet := append([]any{event}, args...)
	if !wantAcks {
		a.send(&Message{Type: ServerSideEmit, Data: &requestData{Packet: packet}})
		return nil, nil
	}
	_, answers, err := a.ask(ctx, ServerSideEmit, &requestData{Packet: packet}, 0)
	return answers, err
}

// ServerCount implements sioadapter.Adapter: with heartbeats, this node and
// those heard from within the heartbeat timeout; otherwise the
// transport's count, if it is a ServerCounter, else 1.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	if a.opts.Heartbeat != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return 1 + len(a.nodes), nil
	}
	if c, ok := a.transport.(ServerCounter); ok {
		n, err := c.ServerCount(ctx)
		if err != nil {
			return 1, err
		}
		return max(1, n), nil
	}
	return 1, nil
}

// Close implements sioadapter.Adapter: with heartbeats it tells the other
// nodes that this one leaves. It does not close the transport.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() {
		if a.opts.Heartbeat != nil {
			a.publish(&Message{Type: AdapterClose})
			a.mu.Lock()
			if a.beat != nil {
				a.beat.Stop()
			}
			a.nodes = nil
			a.mu.Unlock()
		}
		a.cancel()
	})
	return nil
}
