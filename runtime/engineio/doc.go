// Package engineio implements Engine.IO protocol revision 4, the transport
// under Socket.IO: sessions over HTTP long-polling and WebSocket, the
// upgrade from one to the other, and the heartbeat. It is wire-compatible
// with the reference engine.io 6 server and engine.io-client 6. With
// Options.AllowEIO3 the server also speaks revision 3 to older clients
// (Socket.IO 2), as the reference does.
//
// Use NewServer for a server: it is an http.Handler, mounted at
// Options.Path ("/engine.io/" by default). Its Handler is told of each new
// session and returns the Receiver that gets the session's messages. Use
// Dial for a client session.
//
// # Concurrency
//
// A Conn's methods may be called from any goroutine. Send never blocks on
// the network: messages go to a bounded per-session queue, and exactly one
// goroutine writes to a connection at a time (a WebSocket's write loop runs
// only while there is something to write; a polling session's queue is
// taken by the client's next GET). A peer that lets more than
// Options.MaxPendingBytes pile up is disconnected with ErrSlowConsumer.
//
// A Receiver's methods are called one at a time: OnMessage in order, from
// the goroutine reading the session, and OnClose once, last. Blocking in
// OnMessage stalls that session's reading.
//
// # Shutdown
//
// http.Server.Shutdown does not close hijacked WebSocket connections nor
// parked polling requests; call Server.Close first, which closes every
// session with reason "server shutting down" and waits for them.
package engineio
