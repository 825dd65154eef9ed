package redisadapter

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/internal/pubqueue"
)

// Defaults of the publish queue.
const (
	defaultMaxQueueBytes = 8 << 20
	defaultMaxQueueAge   = 10 * time.Second
	// resumeWait is the longest the queue waits for the nodes it counted
	// last to be subscribed again.
	resumeWait = 3 * time.Second
	// publishBatch is the most messages sent in one round trip.
	publishBatch = 256
	// minBackoff and maxBackoff bound the waits between attempts while
	// Redis fails.
	minBackoff, maxBackoff = 50 * time.Millisecond, time.Second
)

// publisher sends a server's messages for other nodes, in order, from one
// goroutine (its queue's), so that local delivery never waits for Redis.
// While Redis is unreachable it keeps them, up to maxBytes and for at
// most maxAge; past that bound they are dropped, counted and logged.
type publisher struct {
	rdb     redis.UniversalClient
	sharded bool          // SPUBLISH instead of PUBLISH
	timeout time.Duration // the longest one round trip may take
	log     *slog.Logger
	q       *pubqueue.Queue[queued]

	dropped atomic.Uint64
	down    atomic.Bool // the last attempt failed

	// The rest is the queue goroutine's own. backoff is the wait after a
	// failed publish, pingBackoff after a failed ping while down.
	backoff, pingBackoff time.Duration
	// seen is how many nodes subscribed to each namespace channel when
	// last counted, and seenWhen when that was.
	seen     map[string]int64
	seenWhen time.Time
}

type queued struct {
	channel string
	nodes   string // the channel every node of the namespace subscribes to
	payload []byte
}

func newPublisher(rdb redis.UniversalClient, sharded bool, maxBytes int, maxAge, timeout time.Duration, log *slog.Logger) *publisher {
	p := &publisher{rdb: rdb, sharded: sharded, timeout: timeout, log: log, backoff: minBackoff, pingBackoff: minBackoff}
	p.q = pubqueue.New(pubqueue.Config[queued]{
		MaxBytes: maxBytes, MaxAge: maxAge, Batch: publishBatch,
		Size:    func(m queued) int { return len(m.payload) },
		Send:    p.flush,
		Dropped: &p.dropped, Logger: log, DropMessage: "redisadapter: messages for other nodes dropped",
	})
	return p
}

// send queues payload for channel and returns at once. nodes is the
// channel that every node of the message's namespace subscribes to.
func (p *publisher) send(channel, nodes string, payload []byte) {
	if p.q.Add(queued{channel: channel, nodes: nodes, payload: payload}) != nil {
		p.q.Drop(1, "queue full")
	}
}

// flush is the queue's Send: it publishes batch once Redis answers and
// the nodes are back, and keeps what Redis did not take, to try again
// after a backoff.
func (p *publisher) flush(ctx context.Context, batch []queued) (int, time.Duration, bool) {
	if p.down.Load() {
		// After an outage, nothing is sent until Redis answers a ping;
		// meanwhile the queue drops what grows too old.
		if !p.answers() {
			wait := p.pingBackoff
			p.pingBackoff = min(2*p.pingBackoff, maxBackoff)
			return 0, wait, false
		}
		p.pingBackoff = minBackoff
	}
	if !p.awaitNodes(ctx, batch[0].nodes, p.down.Load()) {
		return 0, 0, true
	}
	sent := p.publish(batch)
	if sent == len(batch) {
		p.down.Store(false)
		p.backoff = minBackoff
		return sent, 0, false
	}
	p.down.Store(true)
	wait := p.backoff
	p.backoff = min(2*p.backoff, maxBackoff)
	return sent, wait, false
}

// publish sends batch in one round trip and returns how many of its
// messages, from the start, Redis took.
func (p *publisher) publish(batch []queued) int {
	// Not the queue's ctx: a round trip under way when close gives up is
	// let run to its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout) //sio:root-context: the queue outlives every caller
	defer cancel()
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(batch))
	for i, m := range batch {
		if p.sharded {
			cmds[i] = pipe.SPublish(ctx, m.channel, m.payload)
		} else {
			cmds[i] = pipe.Publish(ctx, m.channel, m.payload)
		}
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		if err := c.Err(); err != nil {
			if !p.down.Load() {
				p.log.Warn("redisadapter: publishing", "channel", batch[i].channel, "err", err)
			}
			return i
		}
	}
	return len(batch)
}

// awaitNodes counts, at most once a second (or now, after an outage),
// the nodes subscribed to nodes. If fewer are than last time, it waits
// for them, for at most resumeWait: after Redis restarts, the other nodes
// take a moment to resubscribe, and what is published before they are
// back reaches nobody. (go-redis may hold a command while it redials, so
// an outage is not always seen as an error.) A node that is really gone
// costs one such wait. It reports false if ctx ends meanwhile.
func (p *publisher) awaitNodes(ctx context.Context, nodes string, now bool) bool {
	if !now && time.Since(p.seenWhen) < time.Second {
		return true
	}
	want, known := p.seen[nodes]
	n, err := p.subscribers(nodes)
	deadline := time.Now().Add(resumeWait)
	for known && (err != nil || n < want) && time.Now().Before(deadline) {
		if !pubqueue.Sleep(ctx, 50*time.Millisecond) {
			return false
		}
		n, err = p.subscribers(nodes)
	}
	p.seenWhen = time.Now()
	if err == nil {
		if p.seen == nil || len(p.seen) > 64 {
			p.seen = map[string]int64{}
		}
		p.seen[nodes] = n
	}
	return true
}

func (p *publisher) subscribers(channel string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout) //sio:root-context: the queue outlives every caller
	defer cancel()
	if p.sharded {
		return shardNumSub(ctx, p.rdb, channel)
	}
	counts, err := p.rdb.PubSubNumSub(ctx, channel).Result()
	return counts[channel], err
}

// answers reports whether Redis answers a ping.
func (p *publisher) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout) //sio:root-context: the queue outlives every caller
	defer cancel()
	return p.rdb.Ping(ctx).Err() == nil
}

// close sends what is queued, for at most flush, then stops; what is left
// is counted as dropped.
func (p *publisher) close(flush time.Duration) {
	if left := p.q.Close(flush); len(left) > 0 {
		p.q.Drop(len(left), "closed before Redis took them")
	}
}
