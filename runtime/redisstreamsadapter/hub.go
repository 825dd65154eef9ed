package redisstreamsadapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/clusteradapter"
)

// hub is what the adapters of one server share: the stream's reader on a
// connection of its own, the pub/sub connection, and whether Redis is
// known to be down.
type hub struct {
	rdb    redis.UniversalClient
	reader redis.UniversalClient // the XREAD connection
	own    bool                  // reader was made here, to be closed here
	opts   Options
	log    *slog.Logger
	ps     *redis.PubSub
	pub    *publisher // appends to the stream
	ctx    context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup

	// mu guards byNsp and byChannel, where messages go, and confirms:
	// per channel, who waits for Redis to confirm the subscription.
	mu        sync.Mutex
	byNsp     map[string]*Adapter
	byChannel map[string]*Adapter
	confirms  map[string][]chan struct{}

	// lastID is the id of the last stream entry read, where reading
	// resumes after an outage; the reader's own.
	lastID string

	down    atomic.Bool   // the last command failed; publishes drop (or queue) until a ping answers
	dropped atomic.Uint64 // messages not sent: Redis was down, or the queue full
	// logMu guards lastLog, so that an outage logs every few seconds, not
	// per message.
	logMu   sync.Mutex
	lastLog time.Time
}

func newHub(rdb redis.UniversalClient, o Options) *hub {
	h := &hub{rdb: rdb, opts: o, log: o.Logger, byNsp: map[string]*Adapter{}, byChannel: map[string]*Adapter{}, confirms: map[string][]chan struct{}{}}
	h.ctx, h.cancel = context.WithCancel(context.Background()) //sio:root-context: the hub lives until its server's last adapter closes
	h.reader, h.own = dedicated(rdb)
	h.ps = rdb.Subscribe(h.ctx)
	// Where the stream ends now is where this node starts reading: what
	// other nodes append from here on reaches it, even if Redis goes away
	// before the first read.
	ctx, cancel := context.WithTimeout(h.ctx, min(o.RequestsTimeout, time.Second))
	h.lastID = h.streamEnd(ctx)
	cancel()
	h.pub = newPublisher(h)
	h.loops.Add(2)
	go h.read()
	go h.receive()
	return h
}

// dedicated returns a client of its own for the blocking reads, so that
// they hold no connection of the shared pool, and whether it was made
// here.
func dedicated(rdb redis.UniversalClient) (redis.UniversalClient, bool) {
	switch c := rdb.(type) {
	case *redis.Client:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
		// What the first client made of its options is its own.
		o.PushNotificationProcessor = nil
		if m := o.MaintNotificationsConfig; m != nil {
			clone := *m
			o.MaintNotificationsConfig = &clone
		}
		return redis.NewClient(&o), true
	case *redis.ClusterClient:
		return redis.NewClusterClient(c.Options()), true
	}
	return rdb, false
}

// streamEnd returns the id of the stream's last entry, "0-0" for an empty
// or missing stream, or "" if Redis does not answer.
func (h *hub) streamEnd(ctx context.Context) string {
	last, err := h.rdb.XRevRangeN(ctx, h.opts.StreamName, "+", "-", 1).Result()
	switch {
	case err != nil:
		return ""
	case len(last) == 0:
		return "0-0"
	}
	return last[0].ID
}

// add routes a's namespace and channels to it, and subscribes to them,
// waiting (a second at most) for Redis to confirm: the node then counts,
// and hears requests, from the start.
func (h *hub) add(a *Adapter) {
	channels := []string{a.channel, a.privateChannel}
	waits := make([]chan struct{}, len(channels))
	h.mu.Lock()
	h.byNsp[a.host.Name()] = a
	for i, c := range channels {
		h.byChannel[c] = a
		waits[i] = make(chan struct{})
		h.confirms[c] = append(h.confirms[c], waits[i])
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, min(h.opts.RequestsTimeout, time.Second))
	defer cancel()
	// go-redis subscribes again by itself after a reconnection.
	err := h.ps.Subscribe(ctx, channels...)
	for _, w := range waits {
		if err != nil {
			break
		}
		select {
		case <-w:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		h.warn("redisstreamsadapter: subscribing", "nsp", a.host.Name(), "err", err)
	}
}

// remove undoes add.
func (h *hub) remove(a *Adapter) {
	h.mu.Lock()
	delete(h.byNsp, a.host.Name())
	delete(h.byChannel, a.channel)
	delete(h.byChannel, a.privateChannel)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
	defer cancel()
	_ = h.ps.Unsubscribe(ctx, a.channel, a.privateChannel)
}

// read follows the stream until close, from lastID: after an error it
// waits a little and asks again from the same id, so that an outage
// loses nothing the stream still holds.
func (h *hub) read() {
	defer h.loops.Done()
	backoff := 50 * time.Millisecond
	failing := false
	for h.ctx.Err() == nil {
		if h.lastID == "" {
			h.lastID = h.streamEnd(h.ctx)
		}
		var streams []redis.XStream
		err := errNoStart
		if h.lastID != "" {
			streams, err = h.reader.XRead(h.ctx, &redis.XReadArgs{
				Streams: []string{h.opts.StreamName, h.lastID}, Count: h.opts.ReadCount, Block: h.opts.BlockTime,
			}).Result()
		}
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			if !failing {
				h.warn("redisstreamsadapter: reading the stream; retrying", "stream", h.opts.StreamName, "after", h.lastID, "err", err)
			}
			failing = true
			if !h.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		if failing {
			h.log.Info("redisstreamsadapter: reading the stream again", "stream", h.opts.StreamName, "after", h.lastID)
		}
		failing, backoff = false, 50*time.Millisecond
		for _, s := range streams {
			for _, e := range s.Messages {
				h.lastID = e.ID
				h.deliverEntry(e)
			}
		}
	}
}

// errNoStart is the reader's error while it does not know where to start.
var errNoStart = errors.New("redisstreamsadapter: the stream's end is unknown")

// deliverEntry hands a stream entry to its namespace's adapter; a
// malformed entry is logged and skipped.
func (h *hub) deliverEntry(e redis.XMessage) {
	// This node's own entries, half of what it reads when it is the one
	// that broadcasts, are not worth decoding.
	nsp, _ := e.Values["nsp"].(string)
	uid, _ := e.Values["uid"].(string)
	h.mu.Lock()
	own := h.byNsp[nsp]
	h.mu.Unlock()
	if own != nil && uid == own.UID() {
		return
	}
	m, err := decodeEntry(e.Values)
	if err != nil {
		h.log.Warn("redisstreamsadapter: malformed stream entry dropped", "id", e.ID, "err", err)
		return
	}
	if m == nil {
		return
	}
	h.mu.Lock()
	a := h.byNsp[m.Nsp]
	h.mu.Unlock()
	if a != nil {
		a.OnMessage(m, e.ID)
	}
}

// receive hands what pub/sub delivers to the adapters until close.
func (h *hub) receive() {
	defer h.loops.Done()
	for v := range h.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)) {
		var msg *redis.Message
		switch m := v.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.confirmed(m.Channel)
			}
			continue
		case *redis.Message:
			msg = m
		default:
			continue
		}
		h.mu.Lock()
		a := h.byChannel[msg.Channel]
		h.mu.Unlock()
		if a == nil {
			continue
		}
		m, err := decodePubSub([]byte(msg.Payload))
		if err != nil {
			h.log.Warn("redisstreamsadapter: malformed message dropped", "channel", msg.Channel, "err", err)
			continue
		}
		if m.Type.IsResponse() {
			if msg.Channel == a.privateChannel {
				a.OnResponse(m)
			}
			continue
		}
		a.OnMessage(m, "")
	}
}

// confirmed wakes those waiting for the subscription to channel.
func (h *hub) confirmed(channel string) {
	h.mu.Lock()
	waiting := h.confirms[channel]
	delete(h.confirms, channel)
	h.mu.Unlock()
	for _, w := range waiting {
		close(w)
	}
}

// publish sends m on channel, as msgpack.
func (h *hub) publish(ctx context.Context, channel string, m *clusteradapter.Message) error {
	payload, err := marshalMsgpack(m)
	if err != nil {
		return err
	}
	if err := h.rdb.Publish(ctx, channel, payload).Err(); err != nil {
		h.failed(err)
		return err
	}
	return nil
}

// failed notes a failed command: until Redis answers a ping, publishes
// fail at once instead of each waiting for the broker.
func (h *hub) failed(err error) {
	if h.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	h.warn("redisstreamsadapter: Redis command failed; until it answers, stream entries wait in the queue and the rest reaches local clients only", "err", err)
	if h.down.CompareAndSwap(false, true) {
		go h.probe()
	}
}

func (h *hub) isDown() bool { return h.down.Load() }

func (h *hub) drop() {
	if n := h.dropped.Add(1); n%1000 == 1 {
		h.warn("redisstreamsadapter: messages for other nodes dropped while Redis is unreachable", "dropped", n)
	}
}

// probe pings Redis until it answers, then lets publishes through again.
func (h *hub) probe() {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(h.ctx, time.Second)
		err := h.rdb.Ping(ctx).Err()
		cancel()
		if err == nil || h.ctx.Err() != nil {
			h.down.Store(false)
			return
		}
		if !h.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// warn logs at most every few seconds.
func (h *hub) warn(msg string, args ...any) {
	h.logMu.Lock()
	now := time.Now()
	ok := now.Sub(h.lastLog) > 5*time.Second
	if ok {
		h.lastLog = now
	}
	h.logMu.Unlock()
	if ok {
		h.log.Warn(msg, args...)
	}
}

// sleep waits d, or less if the hub closes; it reports whether it did not.
func (h *hub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

// close appends what is queued (within the requests' timeout), stops
// the reader and the subscriptions, and waits for their loops.
func (h *hub) close() {
	h.pub.close(h.opts.RequestsTimeout)
	h.cancel()
	_ = h.ps.Close()
	if h.own {
		// A blocked XREAD returns when its connection closes.
		_ = h.reader.Close()
	}
	h.loops.Wait()
}
