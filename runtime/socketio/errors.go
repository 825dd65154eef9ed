package socketio

import (
	"errors"
	"fmt"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// DisconnectReason says why a socket left its namespace. The values are the
// reference implementation's strings.
type DisconnectReason string

// Disconnect reasons.
const (
	ReasonServerNamespaceDisconnect DisconnectReason = "server namespace disconnect" // Socket.Disconnect was called
	ReasonClientNamespaceDisconnect DisconnectReason = "client namespace disconnect" // the client left the namespace
	ReasonServerShuttingDown        DisconnectReason = "server shutting down"        // Server.Close was called
	ReasonPingTimeout               DisconnectReason = "ping timeout"                // the heartbeat went unanswered
	ReasonTransportClose            DisconnectReason = "transport close"             // the connection was closed by the client or lost
	ReasonTransportError            DisconnectReason = "transport error"             // the connection failed or the client broke the protocol
	ReasonParseError                DisconnectReason = "parse error"                 // the client sent a packet that does not decode
	ReasonForcedClose               DisconnectReason = "forced close"                // the connection was closed on the server
	ReasonForcedServerClose         DisconnectReason = "forced server close"         // the connection joined no namespace in time
)

// Errors returned by emitting methods.
var (
	ErrDisconnected  = errors.New("socketio: socket disconnected")
	ErrReservedEvent = errors.New("socketio: reserved event name")
	ErrAckTimeout    = errors.New("socketio: ack timed out")
	ErrServerClosed  = errors.New("socketio: server closed")
	ErrAcked         = errors.New("socketio: ack already sent")
)

// DisconnectError is the cause (context.Cause) of a Socket.Context that
// ended because the socket left its namespace. errors.Is(err,
// ErrDisconnected) is true for it.
type DisconnectError struct{ Reason DisconnectReason }

// Error says why the socket left.
func (e *DisconnectError) Error() string { return "socketio: socket disconnected: " + string(e.Reason) }

// Is makes errors.Is(err, ErrDisconnected) true for a DisconnectError.
func (e *DisconnectError) Is(target error) bool { return target == ErrDisconnected }

// ErrNoArg is returned by Args.Decode for an index out of range.
var ErrNoArg = siopacket.ErrNoArg

// ConnectError rejects a connection from namespace middleware with a
// message and optional data, both of which the client receives in its
// connect_error event. Any other error rejects with its text as message.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns the refusal message.
func (e *ConnectError) Error() string { return "socketio: connection refused: " + e.Message }

// BroadcastAckError reports a broadcast whose acks did not all arrive in
// time. Responses holds those that did.
type BroadcastAckError struct {
	Expected  int
	Responses []Args
}

// Error says how many clients did not answer.
func (e *BroadcastAckError) Error() string {
	return fmt.Sprintf("socketio: %d of %d clients did not acknowledge in time", e.Expected-len(e.Responses), e.Expected)
}

// Is makes errors.Is(err, ErrAckTimeout) true for a BroadcastAckError.
func (e *BroadcastAckError) Is(target error) bool { return target == ErrAckTimeout }

func isReserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}
