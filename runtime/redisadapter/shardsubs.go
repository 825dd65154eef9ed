package redisadapter

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// shardSubscriptions holds a node's shard channel subscriptions. Redis
// Cluster serves each hash slot's shard channels from the node owning the
// slot and refuses an SSUBSCRIBE naming channels of several slots, which is
// how go-redis resubscribes a connection after it reconnects; so on a
// cluster each slot in use gets a connection of its own. A single server
// takes every channel on one connection.
//
// Changes after the first subscriptions (rooms coming and going) are
// applied in order by one goroutine, so that joining a room never waits
// on Redis.
type shardSubscriptions struct {
	ctx     context.Context
	rdb     redis.UniversalClient
	cluster bool
	log     *slog.Logger
	deliver func(channel string, payload []byte)

	// opMu orders subscription changes, and guards groups and closed.
	opMu   sync.Mutex
	groups map[int]*redis.PubSub // by hash slot; one group, 0, off a cluster
	closed bool

	// mu guards pending, the changes queued for applyChanges.
	mu      sync.Mutex
	pending []subscriptionChange
	wake    chan struct{}

	done sync.WaitGroup // the receive loops and the change loop
}

type subscriptionChange struct {
	channel   string
	subscribe bool
}

func newShardSubscriptions(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, deliver func(string, []byte)) *shardSubscriptions {
	_, cluster := rdb.(*redis.ClusterClient)
	s := &shardSubscriptions{
		ctx: ctx, rdb: rdb, cluster: cluster, log: log, deliver: deliver,
		groups: map[int]*redis.PubSub{}, wake: make(chan struct{}, 1),
	}
	s.done.Add(1)
	go s.applyChanges()
	return s
}

// group returns the slot group of channel.
func (s *shardSubscriptions) group(channel string) int {
	if !s.cluster {
		return 0
	}
	return hashSlot(channel)
}

// subscribeNow subscribes to channels, waiting (until ctx is done) for
// Redis to confirm those that open a connection, so that the node counts
// from the start.
func (s *shardSubscriptions) subscribeNow(ctx context.Context, channels ...string) {
	for _, ch := range channels {
		s.add(ch, ctx)
	}
}

// add subscribes to channel on its group's connection, starting the group
// if it has none; then, given a context, it waits for the confirmation.
func (s *shardSubscriptions) add(channel string, confirm context.Context) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.closed {
		return
	}
	g := s.group(channel)
	ps, fresh := s.groups[g], false
	if ps == nil {
		// No channel yet, so no connection: go-redis connects on the
		// first subscription, to the node serving that channel's slot.
		ps, fresh = s.rdb.SSubscribe(s.ctx), true
		s.groups[g] = ps
	}
	if err := ps.SSubscribe(s.ctx, channel); err != nil {
		s.log.Debug("redisadapter: ssubscribe", "channel", channel, "err", err)
	}
	if !fresh {
		return
	}
	if confirm != nil {
		// Read before the receive loop starts, which would take it.
		if _, err := ps.Receive(confirm); err != nil {
			s.log.Warn("redisadapter: ssubscribe", "channel", channel, "err", err)
		}
	}
	s.done.Add(1)
	go s.receive(ps)
}

func (s *shardSubscriptions) remove(channel string) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if ps := s.groups[s.group(channel)]; ps != nil && !s.closed {
		if err := ps.SUnsubscribe(s.ctx, channel); err != nil {
			s.log.Debug("redisadapter: sunsubscribe", "channel", channel, "err", err)
		}
	}
}

// receive hands what one connection delivers to the adapter.
func (s *shardSubscriptions) receive(ps *redis.PubSub) {
	defer s.done.Done()
	for msg := range ps.Channel(redis.WithChannelSize(1024)) {
		s.deliver(msg.Channel, []byte(msg.Payload))
	}
}

// subscribe and unsubscribe queue a change; applyChanges makes it.
func (s *shardSubscriptions) subscribe(channel string)   { s.queue(channel, true) }
func (s *shardSubscriptions) unsubscribe(channel string) { s.queue(channel, false) }

func (s *shardSubscriptions) queue(channel string, subscribe bool) {
	s.mu.Lock()
	s.pending = append(s.pending, subscriptionChange{channel, subscribe})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shardSubscriptions) applyChanges() {
	defer s.done.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		changes := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, c := range changes {
			if c.subscribe {
				s.add(c.channel, nil)
			} else {
				s.remove(c.channel)
			}
		}
	}
}

// close ends every subscription and waits for the loops to stop; the
// context given to newShardSubscriptions must be done already.
func (s *shardSubscriptions) close() error {
	s.opMu.Lock()
	s.closed = true
	groups := s.groups
	s.groups = nil
	s.opMu.Unlock()
	var err error
	for _, ps := range groups {
		if cerr := ps.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	s.done.Wait()
	return err
}

// shardNumSub counts the subscribers of a shard channel, asking the
// cluster node that serves it.
func shardNumSub(ctx context.Context, rdb redis.UniversalClient, channel string) (int64, error) {
	var cmdable redis.Cmdable = rdb
	if c, ok := rdb.(*redis.ClusterClient); ok {
		node, err := c.MasterForKey(ctx, channel)
		if err != nil {
			return 0, err
		}
		cmdable = node
	}
	counts, err := cmdable.PubSubShardNumSub(ctx, channel).Result()
	if err != nil {
		return 0, err
	}
	return counts[channel], nil
}

// hashSlot is the Redis Cluster slot of key: CRC16 (XMODEM) of the key, or
// of its hash tag (the text between the first "{" and the next "}", when
// not empty), modulo 16384.
func hashSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := range len(key) {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
