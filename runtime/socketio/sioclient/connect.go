package sioclient

import (
	"context"
	"fmt"
	"net/url"
)

// Connect opens a socket to the namespace named by rawURL's path ("/" if
// none) on a manager of its own, and waits until it is connected, refused
// (a *ConnectError), the connection attempt fails (the server is
// unreachable), or ctx is done. With Options.RetryConnect a failed attempt
// is retried with the reconnection backoff until ctx is done instead.
// Once connected, the manager reconnects after a loss unless
// Options.DisableReconnection is set. Close the socket's Manager when done.
func Connect(ctx context.Context, rawURL string, opts *Options, sopts *SocketOptions) (*Socket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sioclient: bad URL: %w", err)
	}
	nsp := u.Path
	if nsp == "" {
		nsp = "/"
	}
	m, err := NewManager(rawURL, opts)
	if err != nil {
		return nil, err
	}
	s := m.Socket(nsp, sopts)
	result := make(chan error, 1)
	s.OnConnect(func(*Socket) {
		select {
		case result <- nil:
		default:
		}
	})
	s.OnConnectError(func(_ *Socket, err error) {
		if _, refused := err.(*ConnectError); refused || m.opts.DisableReconnection || !m.opts.RetryConnect {
			select {
			case result <- err:
			default:
			}
		}
	})
	s.Connect()
	select {
	case err := <-result:
		if err != nil {
			m.Close()
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		m.Close()
		return nil, ctx.Err()
	}
}
