package rpc

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callContext is a handler's context: the socket's context (done when the
// socket disconnects), carrying the CallInfo, and canceled when the call
// ends. Most handlers never wait on it, so the cancelable context that
// makes Done and Err work is only created when they are first asked for;
// registering one with the socket's context on every call was a tenth of
// the server's time under load. The same goes for the call's deadline:
// its timer is only set once Done or Err is asked for.
type callContext struct {
	parent context.Context
	call   *call // whose CallInfo the context carries
	// deadline is the call's own deadline, as time since epoch (so that
	// it is one word and still on the monotonic clock), if hasDeadline.
	deadline time.Duration

	mu     sync.Mutex
	ctx    context.Context // created on first use
	cancel context.CancelFunc
	ended  bool
	// expired: the caller's deadline passed (it said so in its cancel)
	// before this context's own timer fired.
	expired     bool
	hasDeadline bool
	// flags holds flagCanceled and flagMade, read without the lock. (Here
	// it fills the padding after the bools: a call fits in a smaller size
	// class.)
	flags atomic.Uint32
}

const (
	// flagCanceled: the caller sent a cancel; the worker about to start
	// the call reads it.
	flagCanceled = 1 << iota
	// flagMade: ctx exists and no longer changes, so Value, which every
	// context lookup below the handler goes through (a tracer asks
	// several times per call), reads it without the lock.
	flagMade
)

// markCanceled records that the caller sent a cancel.
func (c *callContext) markCanceled() { c.flags.Or(flagCanceled) }

// canceledByCaller reports whether the caller sent a cancel.
func (c *callContext) canceledByCaller() bool { return c.flags.Load()&flagCanceled != 0 }

// epoch is the base of callContext deadlines; time.Since(epoch) reads
// the monotonic clock.
var epoch = time.Now()

// setDeadline gives the context a deadline d from now (none left if d <= 0).
func (c *callContext) setDeadline(d time.Duration) {
	c.deadline, c.hasDeadline = time.Since(epoch)+d, true
}

// expiredBeforeStart reports whether the context's deadline has passed.
func (c *callContext) expiredBeforeStart() bool {
	return c.hasDeadline && time.Since(epoch) >= c.deadline
}

// init prepares the callContext of a call (its deadline may be set
// already).
func (c *callContext) init(parent context.Context, call *call) {
	c.parent, c.call = parent, call
}

// info is the CallInfo of the context's call.
func (c *callContext) info() CallInfo {
	return CallInfo{Event: c.call.h.event, Socket: c.call.socket(), Header: c.call.meta.headers}
}

// lazy returns the cancelable context, creating it on first use.
func (c *callContext) lazy() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		if !c.hasDeadline {
			c.ctx, c.cancel = context.WithCancel(c.parent)
		} else {
			c.ctx, c.cancel = context.WithDeadline(c.parent, epoch.Add(c.deadline))
		}
		if c.ended {
			c.cancel()
		}
		c.flags.Or(flagMade)
	}
	return c.ctx
}

// end cancels the context: the call is over.
func (c *callContext) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	if c.cancel != nil {
		c.cancel()
	}
}

// expire ends the context as its deadline would: the caller gave up at
// its deadline, which the server's clock has not reached yet.
func (c *callContext) expire() {
	c.mu.Lock()
	c.expired = true
	c.mu.Unlock()
	c.end()
}

func (c *callContext) Deadline() (time.Time, bool) {
	d, ok := c.parent.Deadline()
	if c.hasDeadline {
		if own := epoch.Add(c.deadline); !ok || own.Before(d) {
			return own, true
		}
	}
	return d, ok
}
func (c *callContext) Done() <-chan struct{} { return c.lazy().Done() }

func (c *callContext) Err() error {
	err := c.lazy().Err()
	c.mu.Lock()
	expired := c.expired
	c.mu.Unlock()
	if err != nil && expired {
		return context.DeadlineExceeded
	}
	return err
}

func (c *callContext) Value(key any) any {
	switch key.(type) {
	case callInfoKey:
		return c.info()
	case streamKey:
		if c.call.stream != nil {
			return c.call.stream
		}
		return nil
	}
	// Once the cancelable context exists, look through it: a context
	// derived from this one then finds it as its cancelable parent and
	// registers with it, instead of starting a goroutine to watch Done.
	if c.flags.Load()&flagMade != 0 {
		return c.ctx.Value(key)
	}
	return c.parent.Value(key)
}

func (c *callContext) String() string { return "rpc call context" }
