package rpc

import (
	"context"
	"sync"
	"time"
)

// callContext is a handler's context: the socket's context (done when the
// socket disconnects), carrying the CallInfo, and canceled when the call
// ends. Most handlers never wait on it, so the cancelable context that
// makes Done and Err work is only created when they are first asked for;
// registering one with the socket's context on every call was a tenth of
// the server's time under load.
type callContext struct {
	parent context.Context
	info   CallInfo

	mu     sync.Mutex
	ctx    context.Context // created on first use
	cancel context.CancelFunc
	ended  bool
	// expired: the caller's deadline passed (it said so in its cancel)
	// before this context's own timer fired.
	expired bool
}

// init prepares a zero callContext (one that is part of a call).
func (c *callContext) init(parent context.Context, info CallInfo) {
	c.parent, c.info = parent, info
}

// lazy returns the cancelable context, creating it on first use.
func (c *callContext) lazy() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(c.parent)
		if c.ended {
			c.cancel()
		}
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

func (c *callContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *callContext) Done() <-chan struct{}       { return c.lazy().Done() }

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
	if _, ok := key.(callInfoKey); ok {
		return c.info
	}
	// Once the cancelable context exists, look through it: a context
	// derived from this one then finds it as its cancelable parent and
	// registers with it, instead of starting a goroutine to watch Done.
	c.mu.Lock()
	inner := c.ctx
	c.mu.Unlock()
	if inner != nil {
		return inner.Value(key)
	}
	return c.parent.Value(key)
}

func (c *callContext) String() string { return "rpc call context" }
