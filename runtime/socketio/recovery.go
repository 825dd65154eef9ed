package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// RecoveryOptions turns on connection state recovery, as socket.io 4.6+
// does it: a client that reconnects within MaxDisconnectionDuration gets
// its socket id, rooms and data back, and every broadcast it missed.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a session is kept. Default 2m.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs namespace middleware again on recovery (the
	// reference skips it by default).
	RunMiddlewares bool
}

// recoverable lists the disconnect reasons after which a session is kept:
// losses, not goodbyes.
var recoverable = []DisconnectReason{ReasonTransportError, ReasonTransportClose, ReasonForcedClose,
	ReasonPingTimeout, ReasonServerShuttingDown, ReasonForcedServerClose}

func newPrivateID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
