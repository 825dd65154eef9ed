//go:build !linux

package engineio

import (
	"errors"
	"net"
)

// pollable reports false: without a readiness poller, every WebSocket
// keeps its read goroutine.
func pollable(net.Conn) bool { return false }

// poller is the readiness poller's interface where there is none.
type poller struct{}

var idlePoller poller

func (poller) arm(*wsTransport, int, bool) error { return errNoPoller }
func (poller) forget(*wsTransport, int)          {}

var errNoPoller = errors.New("engineio: no readiness poller on this platform")

// takePong reports false: without a poller nothing is parked.
func takePong(int) bool { return false }
