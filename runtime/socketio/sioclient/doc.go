// Package sioclient is a Socket.IO v5 client, wire-compatible with the
// reference socket.io-client 4.
//
// Use Connect to open a socket to one namespace and wait for it: it
// returns the namespace's refusal (a *ConnectError) or the first failed
// connection attempt at once, unless Options.RetryConnect asks it to keep
// trying. For several namespaces over one connection, use NewManager and
// Manager.Socket. Once connected, a Manager reconnects with backoff after
// a lost connection unless Options.DisableReconnection is set.
//
// What happens to an event emitted while the socket is not connected
// depends on the method, as in the reference client: Emit and
// EmitWithAck buffer it and send it on the next connection, EmitVolatile
// drops it, and TryEmit and TryEmitWithAck fail with ErrNotConnected,
// sending nothing, ever. Use the Try methods for requests that must not
// arrive late (the RPC layer does). They also refuse, with ErrTooLarge, a
// message over the server's limit (the handshake's maxPayload), which the
// server would answer by closing the connection.
//
// An ack awaited when the connection is lost fails with ErrDisconnected:
// the event may or may not have reached the server. (An event buffered
// while disconnected waits for its ack from the connection it is sent on.)
//
// Sockets and Managers are safe for concurrent use. Handlers run one at a
// time on the goroutine that reads the connection; see Manager.
package sioclient
