package redisstreamsadapter

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/runtime/clusteradapter"
	"github.com/sio-dev/sio/runtime/internal/adapterwire"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// storedSession is a session as the reference keeps it: msgpack of
// {sid, pid, rooms, data}, in base64.
type storedSession struct {
	SID   string   `msgpack:"sid"`
	PID   string   `msgpack:"pid"`
	Rooms []string `msgpack:"rooms"`
	Data  any      `msgpack:"data"`
}

// offsetPattern is what a stream entry id looks like.
var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// missedPage is how many entries one XRANGE of a recovery reads; a
// recovery reads at most maxMissedPages of them, as the reference bounds
// its own loop, so that a stream growing faster than it is read cannot
// hold a reconnection forever.
const (
	missedPage     = 1000
	maxMissedPages = 100
)

// Record implements sioadapter.SessionStore. It does nothing: a
// broadcast's offset is the id of its stream entry, which the adapter
// appends when it publishes the broadcast.
func (a *Adapter) Record(*siopacket.Packet, sioadapter.BroadcastOptions) error { return nil }

// PersistSession implements sioadapter.SessionStore: the session is kept
// for MaxDisconnectionDuration. Data must be msgpack-serialisable; it
// comes back as msgpack decodes it (maps, slices, numbers, strings).
func (a *Adapter) PersistSession(s sioadapter.Session) {
	window := a.host.RecoveryWindow()
	if window <= 0 {
		return
	}
	b, err := marshalMsgpack(storedSession{SID: s.SID, PID: s.PID, Rooms: s.Rooms, Data: s.Data})
	if err != nil {
		a.opts.Logger.Warn("redisstreamsadapter: encoding a session", "sid", s.SID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	err = a.rdb.Set(ctx, a.opts.SessionKeyPrefix+s.PID, base64.StdEncoding.EncodeToString(b), window).Err()
	if err != nil {
		a.opts.Logger.Warn("redisstreamsadapter: saving a session", "sid", s.SID, "err", err)
	}
}

// RestoreSession implements sioadapter.SessionStore: the session is taken
// (GET and DEL in one transaction), if the stream still holds offset.
func (a *Adapter) RestoreSession(pid, offset string) (sioadapter.Session, bool) {
	if !offsetPattern.MatchString(offset) {
		return sioadapter.Session{}, false
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	var get *redis.StringCmd
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, a.opts.SessionKeyPrefix+pid)
		p.Del(ctx, a.opts.SessionKeyPrefix+pid)
		return nil
	})
	if err != nil || !a.offsetKept(ctx, offset) {
		return sioadapter.Session{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(get.Val())
	var stored storedSession
	if err != nil || adapterwire.UnmarshalMsgpack(raw, &stored) != nil || stored.SID == "" {
		return sioadapter.Session{}, false
	}
	return sioadapter.Session{SID: stored.SID, PID: pid, Rooms: stored.Rooms, Data: stored.Data}, true
}

// offsetKept reports whether the stream still holds the entry offset: if
// not, some of what came after it may have been trimmed too.
func (a *Adapter) offsetKept(ctx context.Context, offset string) bool {
	found, err := a.rdb.XRangeN(ctx, a.opts.StreamName, offset, offset, 1).Result()
	return err == nil && len(found) > 0
}

// MissedSince implements sioadapter.SessionStore: the namespace's
// broadcasts after offset, from the stream, that reach a socket in rooms.
func (a *Adapter) MissedSince(offset string, rooms []string) ([]*siopacket.Packet, error) {
	if !offsetPattern.MatchString(offset) {
		return nil, fmt.Errorf("redisstreamsadapter: invalid recovery offset %q", offset)
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestsTimeout)
	defer cancel()
	if !a.offsetKept(ctx, offset) {
		return nil, fmt.Errorf("redisstreamsadapter: recovery offset %q is no longer in the stream", offset)
	}
	var missed []*siopacket.Packet
	for range maxMissedPages {
		entries, err := a.rdb.XRangeN(ctx, a.opts.StreamName, nextOffset(offset), "+", missedPage).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstreamsadapter: reading missed broadcasts: %w", err)
		}
		for _, e := range entries {
			offset = e.ID
			if p := a.missed(e, rooms); p != nil {
				missed = append(missed, p)
			}
		}
		if len(entries) < missedPage {
			break
		}
	}
	return missed, nil
}

// missed returns the packet of entry e, with its offset, if it is a
// broadcast of this namespace that recovery keeps and that reaches a
// socket in rooms.
func (a *Adapter) missed(e redis.XMessage, rooms []string) *siopacket.Packet {
	if nsp, _ := e.Values["nsp"].(string); nsp != a.host.Name() {
		return nil
	}
	if typ, _ := e.Values["type"].(string); typ != strconv.Itoa(int(clusteradapter.Broadcast)) {
		return nil
	}
	m, err := decodeEntry(e.Values)
	if err != nil || m == nil || m.RequestID() != "" {
		return nil
	}
	p, opts, err := m.DecodeBroadcast()
	if err != nil || !sioadapter.Recordable(p, opts) || !opts.Reaches(rooms) {
		return nil
	}
	siopacket.AppendStringArg(p, e.ID)
	return p
}

// nextOffset is the smallest entry id after offset (an exclusive range
// start, which Redis before 6.2 lacks).
func nextOffset(offset string) string {
	ms, seq, _ := strings.Cut(offset, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return "(" + offset
	}
	return ms + "-" + strconv.FormatUint(n+1, 10)
}
