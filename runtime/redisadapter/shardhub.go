package redisadapter

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardHub is what the sharded adapters of one server share, however many
// namespaces it has: the shard subscriptions (one connection per hash
// slot in use on a cluster, one connection otherwise), their receive
// loops, and one publish queue.
type shardHub struct {
	subs   *shardSubscriptions
	pub    *publisher
	flush  time.Duration // the longest close waits for the queue
	cancel context.CancelFunc

	// mu guards routes: which adapters listen on each channel.
	mu     sync.Mutex
	routes map[string][]*ShardedAdapter
}

func newShardHub(rdb redis.UniversalClient, o ShardedOptions) *shardHub {
	ctx, cancel := context.WithCancel(context.Background()) //sio:root-context: the hub lives until its server's last adapter closes
	h := &shardHub{
		pub:    newPublisher(rdb, true, o.MaxQueueBytes, o.MaxQueueAge, o.RequestsTimeout, o.Logger),
		flush:  o.RequestsTimeout,
		cancel: cancel,
		routes: map[string][]*ShardedAdapter{},
	}
	// Subscribing waits for Redis, but not for long: when Redis is down, a
	// room being made waits that long, and the subscription comes back
	// with the connection.
	h.subs = newShardSubscriptions(ctx, rdb, min(o.RequestsTimeout, time.Second), o.Logger, h.deliver)
	return h
}

// subscribe makes a listen on channel, subscribing to it unless another
// adapter of the server already does.
func (h *shardHub) subscribe(a *ShardedAdapter, channel string) {
	h.mu.Lock()
	first := len(h.routes[channel]) == 0
	h.routes[channel] = append(h.routes[channel], a)
	h.mu.Unlock()
	if first {
		h.subs.subscribe(channel)
	}
}

// unsubscribe stops a listening on channel, and unsubscribes from it if
// no other adapter listens.
func (h *shardHub) unsubscribe(a *ShardedAdapter, channel string) {
	h.mu.Lock()
	h.routes[channel] = deleteAdapter(h.routes[channel], a)
	last := len(h.routes[channel]) == 0
	if last {
		delete(h.routes, channel)
	}
	h.mu.Unlock()
	if last {
		h.subs.unsubscribe(channel)
	}
}

// deliver hands a message to the adapters listening on its channel.
func (h *shardHub) deliver(channel string, payload []byte) {
	h.mu.Lock()
	to := append([]*ShardedAdapter(nil), h.routes[channel]...)
	h.mu.Unlock()
	for _, a := range to {
		a.onRaw(channel, payload)
	}
}

// close sends what is queued, within the requests' timeout, and ends the
// subscriptions.
func (h *shardHub) close() error {
	h.pub.close(h.flush)
	h.cancel()
	return h.subs.close()
}
