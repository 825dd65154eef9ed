package postgresadapter

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sio-dev/sio/runtime/clusteradapter"
)

// hub is what the adapters of one server share: the listening
// connection, the attachment table's cleanup, and whether PostgreSQL is
// known to be down.
type hub struct {
	pool   *pgxpool.Pool
	opts   Options
	log    *slog.Logger
	table  string // TableName, quoted
	ctx    context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup

	// mu guards byChannel (where notifications go), uids (this server's
	// nodes, whose attachments need no reading), listened (the channels
	// LISTENed on the current connection), waiting (per channel, who
	// waits for its first LISTEN) and interrupt (ends the listener's
	// wait, so that it LISTENs or UNLISTENs).
	mu        sync.Mutex
	byChannel map[string]*Adapter
	uids      map[string]bool
	listened  map[string]bool
	waiting   map[string][]chan struct{}
	interrupt context.CancelFunc

	down    atomic.Bool   // a statement failed; publishes drop until a ping answers
	dropped atomic.Uint64 // messages not sent because PostgreSQL was down
	// logMu guards lastLog (per log message, when it was last written),
	// so that an outage logs every few seconds, not per message.
	logMu   sync.Mutex
	lastLog map[string]time.Time
}

func newHub(pool *pgxpool.Pool, o Options) *hub {
	h := &hub{
		pool: pool, opts: o, log: o.Logger, table: quoteTable(o.TableName),
		byChannel: map[string]*Adapter{}, uids: map[string]bool{}, listened: map[string]bool{}, waiting: map[string][]chan struct{}{},
		lastLog: map[string]time.Time{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background()) //sio:root-context: the hub lives until its server's last adapter closes
	h.loops.Add(2)
	go h.listen()
	go h.cleanup()
	return h
}

// quoteTable quotes each dot-separated part of a table name.
func quoteTable(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// add routes a's channel to it and has the listener LISTEN to it,
// waiting (two seconds at most) until it does: the node then hears the
// others' answers to its announcement, and requests, from the start.
func (h *hub) add(a *Adapter) {
	wait := make(chan struct{})
	h.mu.Lock()
	h.byChannel[a.channel] = a
	h.uids[a.UID()] = true
	h.waiting[a.channel] = append(h.waiting[a.channel], wait)
	h.wake()
	h.mu.Unlock()
	t := time.NewTimer(min(h.opts.RequestsTimeout, 2*time.Second))
	defer t.Stop()
	select {
	case <-wait:
	case <-t.C:
		h.warn("postgresadapter: not listening yet; the node will announce itself once it is", "channel", a.channel)
	case <-h.ctx.Done():
	}
}

// remove undoes add; the listener UNLISTENs.
func (h *hub) remove(a *Adapter) {
	h.mu.Lock()
	delete(h.byChannel, a.channel)
	delete(h.uids, a.UID())
	h.wake()
	h.mu.Unlock()
}

// wake ends the listener's wait for notifications; h.mu is held.
func (h *hub) wake() {
	if h.interrupt != nil {
		h.interrupt()
		h.interrupt = nil
	}
}

// listen keeps one connection listening until close: after a failure it
// waits one to three seconds, as the reference does, and connects again.
func (h *hub) listen() {
	defer h.loops.Done()
	for first := true; h.ctx.Err() == nil; first = false {
		if !first && !h.sleep(time.Duration(1000+rand.IntN(2000))*time.Millisecond) {
			return
		}
		cfg := h.pool.Config().ConnConfig.Copy()
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		cancel()
		if err != nil {
			if h.ctx.Err() == nil {
				h.warn("postgresadapter: connecting the listener; retrying", "err", err)
			}
			continue
		}
		h.serve(conn)
		h.mu.Lock()
		h.listened = map[string]bool{}
		h.interrupt = nil
		h.mu.Unlock()
		ctx, cancel = context.WithTimeout(context.Background(), time.Second) //sio:root-context: closing a connection after its hub's end
		_ = conn.Close(ctx)
		cancel()
	}
}

// serve listens on conn until it fails or the hub closes.
func (h *hub) serve(conn *pgx.Conn) {
	h.exec(conn, "CREATE TABLE IF NOT EXISTS "+h.table+" (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)")
	if conn.IsClosed() {
		return
	}
	for h.ctx.Err() == nil {
		if !h.sync(conn) {
			return
		}
		// A quiet connection is pinged now and then: a peer that vanished
		// without closing it would leave the wait blocked for ever.
		wctx, cancel := context.WithTimeout(h.ctx, h.opts.HeartbeatTimeout)
		h.mu.Lock()
		pending := h.pendingLocked()
		if !pending {
			h.interrupt = cancel
		}
		h.mu.Unlock()
		if pending {
			cancel()
			continue
		}
		n, err := conn.WaitForNotification(wctx)
		woken := errors.Is(wctx.Err(), context.Canceled)
		quiet := errors.Is(wctx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case h.ctx.Err() != nil:
			return
		case err == nil:
			h.deliver(n)
			continue
		case conn.IsClosed():
		case woken:
			continue
		case quiet:
			ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
			err = conn.Ping(ctx)
			cancel()
			if err == nil {
				continue
			}
		}
		h.warn("postgresadapter: the listening connection failed; connecting again", "err", err)
		return
	}
}

// pendingLocked reports whether some channel is to be LISTENed or
// UNLISTENed; h.mu is held.
func (h *hub) pendingLocked() bool {
	if len(h.byChannel) != len(h.listened) {
		return true
	}
	for c := range h.byChannel {
		if !h.listened[c] {
			return true
		}
	}
	return false
}

// sync LISTENs to the channels of the adapters, and UNLISTENs the
// others. An adapter whose channel is now listened to announces itself.
// It reports false if conn failed.
func (h *hub) sync(conn *pgx.Conn) bool {
	h.mu.Lock()
	var listen, unlisten []string
	for c := range h.byChannel {
		if !h.listened[c] {
			listen = append(listen, c)
		}
	}
	for c := range h.listened {
		if h.byChannel[c] == nil {
			unlisten = append(unlisten, c)
		}
	}
	h.mu.Unlock()
	for _, c := range unlisten {
		if !h.exec(conn, "UNLISTEN "+pgx.Identifier{c}.Sanitize()) {
			return false
		}
		h.mu.Lock()
		delete(h.listened, c)
		h.mu.Unlock()
	}
	for _, c := range listen {
		if !h.exec(conn, "LISTEN "+pgx.Identifier{c}.Sanitize()) {
			return false
		}
		h.mu.Lock()
		h.listened[c] = true
		a := h.byChannel[c]
		waiting := h.waiting[c]
		delete(h.waiting, c)
		h.mu.Unlock()
		for _, w := range waiting {
			close(w)
		}
		if a != nil {
			// The others answer with heartbeats: the server count is right
			// at once, after a reconnection too.
			h.spawn(a.Init)
		}
	}
	return true
}

// exec runs sql on conn; it reports false, having logged why, if it
// failed.
func (h *hub) exec(conn *pgx.Conn, sql string) bool {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		if h.ctx.Err() == nil {
			h.warn("postgresadapter: "+strings.Fields(sql)[0]+" failed", "err", err)
		}
		return false
	}
	return true
}

// deliver hands a notification to its namespace's adapter; a malformed
// one, or one whose attachment cannot be read, is logged and dropped. A
// handler that panics on it (a server-side emit's) is logged, and the
// listener goes on.
func (h *hub) deliver(n *pgconn.Notification) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("postgresadapter: a handler panicked on a notification", "channel", n.Channel, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	h.mu.Lock()
	a := h.byChannel[n.Channel]
	h.mu.Unlock()
	if a == nil {
		return
	}
	m, id, err := decodeNotification([]byte(n.Payload))
	if err == nil && id != 0 {
		h.mu.Lock()
		own := h.uids[m.UID]
		h.mu.Unlock()
		if own {
			return
		}
		m, err = h.readAttachment(id)
	}
	if err != nil {
		h.log.Warn("postgresadapter: notification dropped", "channel", n.Channel, "from", n.PID, "err", err)
		return
	}
	a.OnMessage(m, "")
}

// readAttachment reads and decodes the message kept in row id.
func (h *hub) readAttachment(id int64) (*clusteradapter.Message, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
	defer cancel()
	var payload []byte
	err := h.pool.QueryRow(ctx, "SELECT payload FROM "+h.table+" WHERE id = $1", id).Scan(&payload)
	if err != nil {
		return nil, errors.New("postgresadapter: reading attachment " + strconv.FormatInt(id, 10) + ": " + err.Error())
	}
	return decodeAttachment(payload)
}

// errDown is what a publish returns, at once, while PostgreSQL is known
// to be unreachable.
var errDown = errors.New("postgresadapter: PostgreSQL is unreachable")

// publish notifies channel of m, through the attachment table if it must.
func (h *hub) publish(ctx context.Context, channel string, m *clusteradapter.Message) error {
	if h.down.Load() {
		if n := h.dropped.Add(1); n%1000 == 1 {
			h.warn("postgresadapter: messages for other nodes dropped while PostgreSQL is unreachable", "dropped", n)
		}
		return errDown
	}
	payload, err := encodeNotification(m, h.opts.PayloadThreshold)
	if err != nil {
		return err
	}
	if payload == nil {
		row, err := encodeAttachment(m)
		if err != nil {
			return err
		}
		var id int64
		if err := h.pool.QueryRow(ctx, "INSERT INTO "+h.table+" (payload) VALUES ($1) RETURNING id", row).Scan(&id); err != nil {
			h.failed(err)
			return err
		}
		if payload, err = encodeHeader(m, id); err != nil {
			return err
		}
	}
	if _, err := h.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, string(payload)); err != nil {
		h.failed(err)
		return err
	}
	return nil
}

// failed notes a failed statement: unless PostgreSQL answered it with an
// error of the statement's own, publishes fail at once until it answers a
// ping, instead of each waiting for it.
func (h *hub) failed(err error) {
	if h.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !serverGone(pgErr) {
		h.warn("postgresadapter: statement failed", "err", err)
		return
	}
	h.warn("postgresadapter: PostgreSQL unreachable; sending to local clients only until it answers", "err", err)
	if h.down.CompareAndSwap(false, true) {
		h.spawn(h.probe)
	}
}

// serverGone reports whether err ends the session rather than the
// statement: a connection exception (class 08), an operator
// intervention such as a shutdown (class 57), a FATAL or PANIC.
func serverGone(err *pgconn.PgError) bool {
	return err.Severity == "FATAL" || err.Severity == "PANIC" || strings.HasPrefix(err.Code, "08") || strings.HasPrefix(err.Code, "57")
}

// probe pings PostgreSQL until it answers, then lets publishes through
// again.
func (h *hub) probe() {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(h.ctx, time.Second)
		err := h.pool.Ping(ctx)
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

// cleanup deletes, every CleanupInterval, the attachments older than
// that, until close.
func (h *hub) cleanup() {
	defer h.loops.Done()
	ticker := time.NewTicker(h.opts.CleanupInterval)
	defer ticker.Stop()
	age := strconv.FormatInt(h.opts.CleanupInterval.Milliseconds(), 10) + " milliseconds"
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-ticker.C:
		}
		if h.down.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestsTimeout)
		_, err := h.pool.Exec(ctx, "DELETE FROM "+h.table+" WHERE created_at < now() - $1::interval", age)
		cancel()
		if err != nil && h.ctx.Err() == nil {
			h.warn("postgresadapter: deleting old attachments", "err", err)
		}
	}
}

// warn logs msg at most every few seconds.
func (h *hub) warn(msg string, args ...any) {
	h.logMu.Lock()
	now := time.Now()
	ok := now.Sub(h.lastLog[msg]) > 5*time.Second
	if ok {
		h.lastLog[msg] = now
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

// spawn runs f on a goroutine that close waits for, unless the hub is
// closed.
func (h *hub) spawn(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() == nil {
		h.loops.Go(f)
	}
}

// close stops the listener, the cleanup and the probe, and waits for
// them.
func (h *hub) close() {
	h.mu.Lock()
	h.cancel()
	h.mu.Unlock()
	h.loops.Wait()
}
