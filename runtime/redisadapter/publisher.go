package redisadapter

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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
)

// publisher sends a server's messages for other nodes, in order, from one
// goroutine, so that local delivery never waits for Redis. While Redis is
// unreachable it keeps them, up to maxBytes and for at most maxAge; past
// that bound they are dropped, counted and logged.
type publisher struct {
	rdb      redis.UniversalClient
	sharded  bool // SPUBLISH instead of PUBLISH
	maxBytes int
	maxAge   time.Duration
	timeout  time.Duration // the longest one round trip may take
	log      *slog.Logger

	dropped atomic.Uint64
	down    atomic.Bool // the last attempt failed

	// mu guards queue, bytes, closing and lastLog.
	mu      sync.Mutex
	queue   []queued // oldest first
	bytes   int
	closing bool
	lastLog time.Time // when drops were last logged

	// seen is how many nodes subscribed to each namespace channel when
	// last counted, and seenWhen when that was; run's own.
	seen     map[string]int64
	seenWhen time.Time

	wake chan struct{} // one token: the queue has something
	stop chan struct{} // closed to make run give up waiting
	done chan struct{} // closed when run returns
}

type queued struct {
	channel string
	nodes   string // the channel every node of the namespace subscribes to
	payload []byte
	at      time.Time
}

func newPublisher(rdb redis.UniversalClient, sharded bool, maxBytes int, maxAge, timeout time.Duration, log *slog.Logger) *publisher {
	p := &publisher{
		rdb: rdb, sharded: sharded, maxBytes: maxBytes, maxAge: maxAge, timeout: timeout, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.run()
	return p
}

// send queues payload for channel and returns at once. nodes is the
// channel that every node of the message's namespace subscribes to.
func (p *publisher) send(channel, nodes string, payload []byte) {
	p.mu.Lock()
	if p.closing || p.bytes+len(payload) > p.maxBytes {
		p.mu.Unlock()
		p.drop(1, "queue full")
		return
	}
	p.queue = append(p.queue, queued{channel: channel, nodes: nodes, payload: payload, at: time.Now()})
	p.bytes += len(payload)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// drop counts n lost messages and logs, at most every few seconds.
func (p *publisher) drop(n int, why string) {
	total := p.dropped.Add(uint64(n))
	p.mu.Lock()
	now := time.Now()
	logIt := now.Sub(p.lastLog) > 5*time.Second
	if logIt {
		p.lastLog = now
	}
	p.mu.Unlock()
	if logIt {
		p.log.Warn("redisadapter: messages for other nodes dropped", "reason", why, "dropped", n, "total", total)
	}
}

// run sends the queue until close.
func (p *publisher) run() {
	defer close(p.done)
	backoff := 50 * time.Millisecond
	for {
		batch, expired := p.head()
		if expired > 0 {
			p.drop(expired, "older than the queue's bound")
		}
		if len(batch) == 0 {
			p.mu.Lock()
			closing := p.closing
			p.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-p.wake:
			case <-p.stop:
			}
			continue
		}
		if p.down.Load() && !p.resume() {
			return
		}
		if !p.awaitNodes(batch[0].nodes, p.down.Load()) {
			return
		}
		sent := p.publish(batch)
		p.pop(batch[:sent])
		if sent == len(batch) {
			p.down.Store(false)
			backoff = 50 * time.Millisecond
			continue
		}
		p.down.Store(true)
		if !p.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// head returns the oldest queued messages still within maxAge, after
// dropping those past it, and how many it dropped.
func (p *publisher) head() ([]queued, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	threshold := time.Now().Add(-p.maxAge)
	expired := 0
	for expired < len(p.queue) && p.queue[expired].at.Before(threshold) {
		p.bytes -= len(p.queue[expired].payload)
		expired++
	}
	p.queue = p.queue[expired:]
	return p.queue[:min(len(p.queue), publishBatch):min(len(p.queue), publishBatch)], expired
}

// pop removes the sent messages, the head of the queue.
func (p *publisher) pop(sent []queued) {
	if len(sent) == 0 {
		return
	}
	p.mu.Lock()
	for _, m := range sent {
		p.bytes -= len(m.payload)
	}
	p.queue = p.queue[len(sent):]
	if len(p.queue) == 0 {
		p.queue = nil // let the array go
	}
	p.mu.Unlock()
}

// publish sends batch in one round trip and returns how many of its
// messages, from the start, Redis took.
func (p *publisher) publish(batch []queued) int {
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
// costs one such wait. It reports false if the publisher is stopped
// meanwhile.
func (p *publisher) awaitNodes(nodes string, now bool) bool {
	if !now && time.Since(p.seenWhen) < time.Second {
		return true
	}
	want, known := p.seen[nodes]
	n, err := p.subscribers(nodes)
	deadline := time.Now().Add(resumeWait)
	for known && (err != nil || n < want) && time.Now().Before(deadline) {
		if !p.sleep(50 * time.Millisecond) {
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

// resume waits, after an outage, until Redis answers. It reports false
// if the publisher is stopped meanwhile.
func (p *publisher) resume() bool {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout) //sio:root-context: the queue outlives every caller
		err := p.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if !p.sleep(backoff) {
			return false
		}
		backoff = min(2*backoff, time.Second)
		p.expire()
	}
	return true
}

// expire drops what has grown too old while Redis was away.
func (p *publisher) expire() {
	if _, expired := p.head(); expired > 0 {
		p.drop(expired, "older than the queue's bound")
	}
}

// sleep waits d, or less when stopped; it reports whether it was not.
func (p *publisher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stop:
		return false
	}
}

// close sends what is queued, for at most flush, then stops; what is left
// is counted as dropped.
func (p *publisher) close(flush time.Duration) {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(flush)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		close(p.stop)
		<-p.done
	}
	p.mu.Lock()
	left := len(p.queue)
	p.queue, p.bytes = nil, 0
	p.mu.Unlock()
	if left > 0 {
		p.drop(left, "closed before Redis took them")
	}
}
