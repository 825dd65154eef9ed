package postgresadapter

import (
	"testing"

	"github.com/sio-dev/sio/internal/adaptertest"
)

// PostgreSQL is killed (SIGKILL, its backends too) while a node
// broadcasts steadily, and started again on the same data directory and
// port: the nodes connect again by themselves, and a client of the other
// node misses only ticks sent during the outage.
func TestFaultPostgresKilledAndRestarted(t *testing.T) {
	adaptertest.RunKilledAndRestarted(t, postgres)
}

// PostgreSQL stopped (SIGSTOP, its backends too) for five seconds wedges
// no node.
func TestFaultPostgresPausedDoesNotWedge(t *testing.T) {
	adaptertest.RunPausedDoesNotWedge(t, postgres)
}
