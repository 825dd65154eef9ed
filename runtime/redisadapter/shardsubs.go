package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardSubscriptions holds a node's shard channel subscriptions. Redis
// Cluster serves each hash slot's shard channels from the node owning the
// slot and refuses an SSUBSCRIBE naming channels of several slots, which is
// how go-redis resubscribes a connection after it reconnects; so on a
// cluster each slot in use gets a connection of its own. A single server
// takes every channel on one connection.
//
// Subscribing waits, for a bounded time, until Redis confirms: a room's
// channel is subscribed when the room comes to exist on the node, and a
// socket that has joined (a typed stream that has answered its caller)
// must hear what other nodes publish from then on.
type shardSubscriptions struct {
	ctx     context.Context
	rdb     redis.UniversalClient
	cluster bool
	wait    time.Duration // the longest a change waits for Redis
	log     *slog.Logger
	deliver func(channel string, payload []byte)

	// opMu orders subscription changes, and guards groups and closed.
	opMu   sync.Mutex
	groups map[int]*redis.PubSub // by hash slot; one group, 0, off a cluster
	closed bool

	// mu guards confirms: per channel, who waits for Redis to confirm.
	mu       sync.Mutex
	confirms map[string][]chan struct{}

	loops sync.WaitGroup // the receive loops
}

func newShardSubscriptions(ctx context.Context, rdb redis.UniversalClient, wait time.Duration, log *slog.Logger, deliver func(string, []byte)) *shardSubscriptions {
	_, cluster := rdb.(*redis.ClusterClient)
	return &shardSubscriptions{
		ctx: ctx, rdb: rdb, cluster: cluster, wait: wait, log: log, deliver: deliver,
		groups: map[int]*redis.PubSub{}, confirms: map[string][]chan struct{}{},
	}
}

// group returns the slot group of channel.
func (s *shardSubscriptions) group(channel string) int {
	if !s.cluster {
		return 0
	}
	return hashSlot(channel)
}

// subscribe subscribes to channel on its group's connection, starting the
// group if it has none, and waits for Redis to confirm. Only sending the
// command is done in turn with other changes; the wait is not, so that
// joins do not queue behind each other when Redis is slow.
func (s *shardSubscriptions) subscribe(channel string) {
	ctx, cancel := context.WithTimeout(s.ctx, s.wait)
	defer cancel()
	confirmed := make(chan struct{})
	s.mu.Lock()
	s.confirms[channel] = append(s.confirms[channel], confirmed)
	s.mu.Unlock()
	err := s.sendSubscribe(ctx, channel)
	if err == nil {
		select {
		case <-confirmed:
			return
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != errClosedAdapter {
		s.log.Warn("redisadapter: ssubscribe", "channel", channel, "err", err)
	}
	s.mu.Lock()
	s.confirms[channel] = deleteChan(s.confirms[channel], confirmed)
	if len(s.confirms[channel]) == 0 {
		delete(s.confirms, channel)
	}
	s.mu.Unlock()
}

// sendSubscribe sends the SSUBSCRIBE for channel on its group's
// connection, starting the group if it has none.
func (s *shardSubscriptions) sendSubscribe(ctx context.Context, channel string) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.closed {
		return errClosedAdapter
	}
	g := s.group(channel)
	ps, fresh := s.groups[g], false
	if ps == nil {
		// No channel yet, so no connection: go-redis connects on the
		// first subscription, to the node serving that channel's slot.
		ps, fresh = s.rdb.SSubscribe(s.ctx), true
		s.groups[g] = ps
	}
	err := ps.SSubscribe(ctx, channel)
	if fresh {
		// Only now: a receive loop started earlier would connect first,
		// to any node.
		s.loops.Add(1)
		go s.receive(ps)
	}
	return err
}

// errClosedAdapter reports a subscription asked of a closed adapter.
var errClosedAdapter = errors.New("redisadapter: adapter closed")

func deleteChan(list []chan struct{}, c chan struct{}) []chan struct{} {
	for i, e := range list {
		if e == c {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// unsubscribe ends the subscription to channel.
func (s *shardSubscriptions) unsubscribe(channel string) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	ps := s.groups[s.group(channel)]
	if ps == nil || s.closed {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.wait)
	defer cancel()
	if err := ps.SUnsubscribe(ctx, channel); err != nil {
		s.log.Debug("redisadapter: sunsubscribe", "channel", channel, "err", err)
	}
}

// receive hands what one connection delivers to the adapter, and Redis's
// confirmations to those waiting for them.
func (s *shardSubscriptions) receive(ps *redis.PubSub) {
	defer s.loops.Done()
	for msg := range ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)) {
		switch m := msg.(type) {
		case *redis.Message:
			s.deliver(m.Channel, []byte(m.Payload))
		case *redis.Subscription:
			if m.Kind == "ssubscribe" {
				s.mu.Lock()
				waiting := s.confirms[m.Channel]
				delete(s.confirms, m.Channel)
				s.mu.Unlock()
				for _, c := range waiting {
					close(c)
				}
			}
		}
	}
}

// close ends every subscription and waits for the receive loops to stop.
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
	s.loops.Wait()
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
