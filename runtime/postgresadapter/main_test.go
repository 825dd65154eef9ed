package postgresadapter

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/siotest"
)

// TestMain starts a PostgreSQL for the example and names it in
// POSTGRES_URL (the tests start their own, with siotest), and fails on
// goroutines left running once every test has ended.
func TestMain(m *testing.M) {
	pg, stop, err := siotest.RunPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "the example needs PostgreSQL:", err)
		os.Exit(1)
	}
	if err := os.Setenv("POSTGRES_URL", pg.URL()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
