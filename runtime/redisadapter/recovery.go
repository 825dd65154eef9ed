package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// The adapter stores connection state recovery data in Redis, so that a
// client can resume on any node: broadcasts go into a stream whose entry
// ids are the offsets (the same on every node), and sessions are keys that
// expire after MaxDisconnectionDuration. The sessions of connected sockets
// are kept too (sioadapter.LiveSessionStore), their keys' expiry pushed back
// while the node lives, so that the clients of a node that crashes resume
// on another one.

var _ sioadapter.LiveSessionStore = (*Adapter)(nil)

func (a *Adapter) streamKey() string { return a.opts.Key + "#" + a.host.Name() + "#recovery" }
func (a *Adapter) sessionKey(pid string) string {
	return a.opts.Key + "#" + a.host.Name() + "#session#" + pid
}

func (a *Adapter) maxAge() time.Duration {
	return a.host.RecoveryWindow()
}

// Record implements sioadapter.SessionStore: the broadcast is appended to
// the stream, and the entry id becomes its offset. If Redis does not
// answer within RecordTimeout the broadcast still goes out, unrecorded,
// and until the publish queue reaches Redis again the next ones do not
// even try, so that local delivery does not wait for the broker.
func (a *Adapter) Record(p *siopacket.Packet, opts sioadapter.BroadcastOptions) error {
	if a.hub.pub.down.Load() {
		return nil
	}
	wp, err := adapterwire.ToPacket(p)
	if err != nil {
		return err
	}
	packet, err := msgpack.Marshal(wp)
	if err != nil {
		return err
	}
	wopts, _ := json.Marshal(adapterwire.ToOpts(opts))
	ctx, cancel := context.WithTimeout(a.ctx, min(a.opts.RecordTimeout, a.opts.RequestsTimeout))
	defer cancel()
	id, err := a.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: a.streamKey(),
		MinID:  fmt.Sprintf("%d-0", time.Now().Add(-a.maxAge()).UnixMilli()),
		Approx: true,
		Values: map[string]any{"packet": packet, "opts": wopts},
	}).Result()
	if err != nil {
		a.hub.pub.down.Store(true)
		a.opts.Logger.Warn("redisadapter: broadcast sent unrecorded; recording pauses until Redis answers", "err", err)
		return nil
	}
	siopacket.AppendStringArg(p, id)
	return nil
}

// storedSession is a session as it is kept in Redis.
type storedSession struct {
	SID   string          `json:"sid"`
	PID   string          `json:"pid"`
	Rooms []string        `json:"rooms"`
	Data  json.RawMessage `json:"data"`
}

// PersistSession implements sioadapter.SessionStore. Data must be
// JSON-serialisable; it comes back JSON-decoded.
func (a *Adapter) PersistSession(s sioadapter.Session) {
	a.live.forget(s.PID)
	a.saveSession(s, a.opts.RequestsTimeout)
}

// saveSession writes s to its key, to expire after MaxDisconnectionDuration.
func (a *Adapter) saveSession(s sioadapter.Session, timeout time.Duration) {
	data, err := json.Marshal(s.Data)
	if err != nil {
		data = []byte("null")
	}
	b, _ := json.Marshal(storedSession{SID: s.SID, PID: s.PID, Rooms: s.Rooms, Data: data})
	ctx, cancel := context.WithTimeout(a.ctx, timeout)
	defer cancel()
	if err := a.rdb.Set(ctx, a.sessionKey(s.PID), b, a.maxAge()).Err(); err != nil {
		a.opts.Logger.Warn("redisadapter: saving a session", "sid", s.SID, "err", err)
	}
}

// KeepLiveSession implements sioadapter.LiveSessionStore. The write waits
// at most RecordTimeout, as a broadcast's record does: during a broker
// outage a join does not wait for it (and a crash then may lose the
// change).
func (a *Adapter) KeepLiveSession(s sioadapter.Session) {
	if a.live.keep(s.PID) {
		go a.refreshLiveSessions()
	}
	a.saveSession(s, a.opts.RecordTimeout)
}

// DropLiveSession implements sioadapter.LiveSessionStore.
func (a *Adapter) DropLiveSession(pid string) {
	a.live.forget(pid)
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RecordTimeout)
	defer cancel()
	_ = a.rdb.Del(ctx, a.sessionKey(pid)).Err()
}

// refreshLiveSessions pushes back the expiry of the live sessions' keys
// every third of MaxDisconnectionDuration until the adapter closes, so
// that a key outlives its node by between two thirds of that and all of
// it.
func (a *Adapter) refreshLiveSessions() {
	if a.maxAge() <= 0 {
		return
	}
	ticker := time.NewTicker(a.maxAge() / 3)
	defer ticker.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-ticker.C:
		}
		pids := a.live.list()
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
		pipe := a.rdb.Pipeline()
		for _, pid := range pids {
			pipe.PExpire(ctx, a.sessionKey(pid), a.maxAge())
		}
		if _, err := pipe.Exec(ctx); err != nil && len(pids) > 0 {
			a.opts.Logger.Warn("redisadapter: refreshing the live sessions' expiry", "sessions", len(pids), "err", err)
		}
		cancel()
	}
}

// liveSessions is the set of the sessions an adapter keeps alive.
type liveSessions struct {
	mu      sync.Mutex
	pids    map[string]struct{}
	started bool // the refresher runs
}

// keep adds pid, reporting whether the refresher must be started.
func (l *liveSessions) keep(pid string) (start bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pids == nil {
		l.pids = map[string]struct{}{}
	}
	l.pids[pid] = struct{}{}
	start, l.started = !l.started, true
	return start
}

func (l *liveSessions) forget(pid string) {
	l.mu.Lock()
	delete(l.pids, pid)
	l.mu.Unlock()
}

func (l *liveSessions) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Keys(l.pids))
}

// RestoreSession implements sioadapter.SessionStore.
func (a *Adapter) RestoreSession(pid, offset string) (sioadapter.Session, bool) {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	raw, err := a.rdb.GetDel(ctx, a.sessionKey(pid)).Bytes()
	if err != nil {
		return sioadapter.Session{}, false
	}
	var stored storedSession
	if json.Unmarshal(raw, &stored) != nil || !a.offsetKept(ctx, offset) {
		return sioadapter.Session{}, false
	}
	s := sioadapter.Session{SID: stored.SID, PID: stored.PID, Rooms: stored.Rooms}
	_ = json.Unmarshal(stored.Data, &s.Data)
	return s, true
}

// offsetKept reports whether the stream still holds the entry offset: if
// not, some of what came after it may have been trimmed too.
func (a *Adapter) offsetKept(ctx context.Context, offset string) bool {
	if offset == "" || strings.ContainsAny(offset, " ") {
		return false
	}
	found, err := a.rdb.XRangeN(ctx, a.streamKey(), offset, offset, 1).Result()
	return err == nil && len(found) > 0
}

// MissedSince implements sioadapter.SessionStore.
func (a *Adapter) MissedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	if !a.offsetKept(ctx, offset) {
		return nil, fmt.Errorf("redisadapter: recovery offset %q is no longer in the stream", offset)
	}
	entries, err := a.rdb.XRange(ctx, a.streamKey(), "("+offset, "+").Result()
	if err != nil {
		return nil, fmt.Errorf("redisadapter: reading missed broadcasts: %w", err)
	}
	var missed []*siopacket.Packet
	for _, e := range entries {
		var wo adapterwire.Opts
		if json.Unmarshal([]byte(fmt.Sprint(e.Values["opts"])), &wo) != nil {
			continue
		}
		if !adapterwire.FromOpts(&wo).Reaches(rooms) {
			continue
		}
		var wp adapterwire.Packet
		if adapterwire.UnmarshalMsgpack([]byte(fmt.Sprint(e.Values["packet"])), &wp) != nil {
			continue
		}
		p, err := adapterwire.FromPacket(&wp)
		if err != nil {
			continue
		}
		siopacket.AppendStringArg(&p, e.ID)
		missed = append(missed, &p)
	}
	return missed, nil
}
