package postgresadapter

import (
	"strings"
	"testing"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/internal/siotest"
)

// Three Go nodes on one PostgreSQL: everything a cluster adapter does
// crosses them, large and binary messages through the attachment table.
func TestCluster(t *testing.T) { adaptertest.RunCluster(t, postgres) }

// Binary messages, and text ones over the NOTIFY threshold, travel as one
// attachment row each; small text ones as the NOTIFY alone.
func TestClusterAttachmentRows(t *testing.T) {
	pg := siotest.StartPostgres(t)
	a, b := startNode(t, pg, nodeOptions{}), startNode(t, pg, nodeOptions{})
	got := adaptertest.Collect(adaptertest.Dial(t, b.Node, "r"), "hello")
	adaptertest.WaitFor(t, "two nodes", func() bool { return adaptertest.ServerCount(a.Node) == 2 })
	for _, m := range []struct {
		name     string
		arg      any
		want     string
		rowsMore int
	}{
		{"binary", []byte{1, 2, 3}, `[1 2 3]`, 1},
		{"large text", strings.Repeat("é", 5000), `["` + strings.Repeat("é", 5000) + `"]`, 1}, // 10 000 bytes of JSON
		{"small text", "small", `["small"]`, 0},
	} {
		before := attachments(t, a)
		_ = a.Srv.To("r").Emit("hello", m.arg)
		adaptertest.Expect(t, got, m.want)
		if n := attachments(t, a); n != before+m.rowsMore {
			t.Errorf("%s: %d attachment rows, want %d", m.name, n, before+m.rowsMore)
		}
	}
}
