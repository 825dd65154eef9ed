package postgresadapter

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/socketio"
)

// node is one Go server of the cluster, with its pool.
type node struct {
	*adaptertest.Node
	pool *pgxpool.Pool
}

// nodeOptions are what a test changes of a node.
type nodeOptions struct {
	adapter *Options
	setup   func(*socketio.Server)
	logs    *siotest.SyncBuffer // receives the adapter's log, if set
	port    string              // where to connect instead of the server's port (a proxy)
}

// newPool returns a pool on pg (on port, if not "") that gives up
// connecting after 2s.
func newPool(t *testing.T, pg *siotest.Postgres, port string) *pgxpool.Pool {
	t.Helper()
	url := pg.URL()
	if port != "" {
		url = strings.Replace(url, ":"+pg.Port+"/", ":"+port+"/", 1)
	}
	cfg, err := pgxpool.ParseConfig(url + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// startNode starts a Go node on pg; it is closed when the test ends.
func startNode(t *testing.T, pg *siotest.Postgres, o nodeOptions) *node {
	t.Helper()
	pool := newPool(t, pg, o.port)
	ao := Options{RequestsTimeout: 2 * time.Second}
	if o.adapter != nil {
		ao = *o.adapter
	}
	if o.logs != nil {
		ao.Logger = slog.New(slog.NewTextHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if ao.Logger == nil {
		ao.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	n := adaptertest.StartNode(t, New(pool, &ao), adaptertest.NodeOptions{Setup: o.setup}, pool.Close)
	return &node{Node: n, pool: pool}
}

// postgres is the adapter as the shared suites see it.
var postgres = adaptertest.Adapter[*siotest.Postgres]{
	StartBroker: siotest.StartPostgres,
	StartNode: func(t *testing.T, pg *siotest.Postgres, o adaptertest.NodeOptions) *adaptertest.Node {
		return startNode(t, pg, nodeOptions{setup: o.Setup}).Node
	},
	// Each node announces itself once it listens, and the others
	// answer: well before the first heartbeat.
	CountWithin: 2 * time.Second,
	Mixed: &adaptertest.Mixed[*siotest.Postgres]{
		Peer: "postgres",
		Port: func(pg *siotest.Postgres) string { return pg.Port },
		// Over the NOTIFY limit, through the attachment table.
		ClientArgs: func(*siotest.Postgres) []string { return []string{"large"} },
	},
	Fault: &adaptertest.Fault[*siotest.Postgres]{
		// NOTIFY keeps nothing for a listener that is away.
		Kept: nil,
		// The first waits for its statement's timeout (2s).
		PausedBroadcasts: 3 * time.Second,
		Pause:            5 * time.Second,
		// A node counts another until its heartbeat times out, though
		// neither listens yet.
		HeardOnceCounted: false,
	},
}

// attachments returns how many rows the attachment table holds.
func attachments(t *testing.T, n *node) int {
	t.Helper()
	var count int
	if err := n.pool.QueryRow(context.Background(), "SELECT count(*) FROM socket_io_attachments").Scan(&count); err != nil {
		t.Fatal(err)
	}
	return count
}
