package redisadapter

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub is what the classic adapters of one server share, however many
// namespaces it has: one subscriber connection with every namespace's
// channels and pattern on it, one goroutine reading it, and one publish
// queue.
type hub struct {
	rdb  redis.UniversalClient
	opts Options
	pub  *publisher
	ps   *redis.PubSub
	done chan struct{} // closed when the receive loop exits
	wait time.Duration // the longest a subscription waits for Redis

	// mu guards the routes, confirms and started: which adapters listen
	// on which channel or pattern, who waits for Redis to confirm a
	// subscription, and whether the receive loop runs.
	mu       sync.Mutex
	channels map[string][]*Adapter
	patterns map[string][]*Adapter
	confirms map[string][]chan struct{}
	started  bool
}

func newHub(rdb redis.UniversalClient, o Options) *hub {
	return &hub{
		rdb: rdb, opts: o,
		pub:      newPublisher(rdb, false, o.MaxQueueBytes, o.MaxQueueAge, o.RequestsTimeout, o.Logger),
		ps:       rdb.Subscribe(context.Background()), //sio:root-context: no command is sent until a namespace subscribes
		done:     make(chan struct{}),
		wait:     min(o.RequestsTimeout, time.Second),
		channels: map[string][]*Adapter{},
		patterns: map[string][]*Adapter{},
		confirms: map[string][]chan struct{}{},
	}
}

// add subscribes to a's channels and pattern and waits, for a bounded
// time, until Redis confirms, so that the node counts, and hears, from the
// start. When Redis is down the subscriptions come back with it.
func (h *hub) add(a *Adapter) {
	channels := []string{a.requestChannel, a.responseChannel, a.specificResponseChannel}
	pattern := a.channel + "*"
	confirmed := make(chan struct{})
	h.mu.Lock()
	for _, c := range channels {
		h.channels[c] = append(h.channels[c], a)
	}
	h.patterns[pattern] = append(h.patterns[pattern], a)
	// Redis answers in order; the pattern is subscribed last.
	h.confirms[pattern] = append(h.confirms[pattern], confirmed)
	start := !h.started
	h.started = true
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), h.wait) //sio:root-context: bounded by the wait
	defer cancel()
	err := h.ps.Subscribe(ctx, channels...)
	if err == nil {
		err = h.ps.PSubscribe(ctx, pattern)
	}
	if start {
		// Only now: the loop would otherwise connect before there is
		// anything to subscribe to.
		go h.receive()
	}
	if err == nil {
		select {
		case <-confirmed:
			return
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	h.opts.Logger.Warn("redisadapter: subscribe", "nsp", a.host.Name(), "err", err)
	h.mu.Lock()
	h.confirms[pattern] = deleteChan(h.confirms[pattern], confirmed)
	if len(h.confirms[pattern]) == 0 {
		delete(h.confirms, pattern)
	}
	h.mu.Unlock()
}

// remove ends a's subscriptions, those no other adapter shares.
func (h *hub) remove(a *Adapter) {
	var channels, patterns []string
	h.mu.Lock()
	for _, c := range []string{a.requestChannel, a.responseChannel, a.specificResponseChannel} {
		if h.channels[c] = deleteAdapter(h.channels[c], a); len(h.channels[c]) == 0 {
			delete(h.channels, c)
			channels = append(channels, c)
		}
	}
	pattern := a.channel + "*"
	if h.patterns[pattern] = deleteAdapter(h.patterns[pattern], a); len(h.patterns[pattern]) == 0 {
		delete(h.patterns, pattern)
		patterns = append(patterns, pattern)
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), h.wait) //sio:root-context: bounded by the wait
	defer cancel()
	if len(channels) > 0 {
		_ = h.ps.Unsubscribe(ctx, channels...)
	}
	if len(patterns) > 0 {
		_ = h.ps.PUnsubscribe(ctx, patterns...)
	}
}

func deleteAdapter[A comparable](list []A, a A) []A {
	for i, e := range list {
		if e == a {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// receive hands each message to the adapters of its channel or pattern,
// and Redis's confirmations to those waiting for them, until close.
func (h *hub) receive() {
	defer close(h.done)
	for msg := range h.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)) {
		switch m := msg.(type) {
		case *redis.Message:
			h.mu.Lock()
			var to []*Adapter
			if m.Pattern != "" {
				to = h.patterns[m.Pattern]
			} else {
				to = h.channels[m.Channel]
			}
			to = append([]*Adapter(nil), to...)
			h.mu.Unlock()
			for _, a := range to {
				a.dispatch(m)
			}
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				h.mu.Lock()
				waiting := h.confirms[m.Channel]
				delete(h.confirms, m.Channel)
				h.mu.Unlock()
				for _, c := range waiting {
					close(c)
				}
			}
		}
	}
}

// close sends what is queued, within the requests' timeout, and closes
// the subscriber connection.
func (h *hub) close() error {
	h.pub.close(h.opts.RequestsTimeout)
	err := h.ps.Close()
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	if started {
		<-h.done
	}
	return err
}
