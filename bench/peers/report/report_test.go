package report

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func sample(t *testing.T) *Results {
	t.Helper()
	f, err := os.Open("testdata/results.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the writer's output (go test ./report -update rewrites it):\n%s", name, got)
	}
}

func TestMarkdown(t *testing.T) {
	md, err := Markdown(sample(t), Options{Loaded: 10, ChartDir: "docs/bench"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tables.md", md)
	// The figures and ratios a reader checks first, worked out by hand
	// from the sample.
	for _, want := range []string{
		"Run of 2026-01-02T03:04Z by `bash scripts/bench.sh`, DURATION=5s IDLE=10000 IDLE_HOLD=30s; load average at the start 0.50 0.40 0.30, as each server's turn began go 0.50, node 1.10.",
		"| acks/s (50 clients × 32 in flight, 16 B) | 1 299 936 (busy: server 0.95, tool 0.60) | 131 520 | 363 210 | 25 000 | 9.88× | 3.58× | 52.0× |",
		"| ack round trip p50, 10 clients, 1 call each at a time | 48 µs | 107 µs | 52 µs | 220 µs | 0.45× | 0.92× | 0.22× |",
		"| acks/s over HTTP long-polling, 10 clients | 34 574 | 23 006 | – | failed | 1.50× | – | – |",
		"| server RSS per idle WebSocket connection (10 000, held 30 s, 10 000 pings answered) | 8.4 KiB | 8.2 KiB (10.0 at peak) | – | 40.0 KiB (44.0 at peak) | 1.02× | – | 0.21× |",
		"| server CPU per ack, 50 × 32 | 0.80 µs | 7.50 µs | 2.50 µs | 30.00 µs | 0.11× | 0.32× | 0.03× |",
		"| server CPU per delivered fan-out message | 0.50 µs | 4.00 µs | – | 60.00 µs | 0.12× | – | 0.01× |",
		"| room fan-out delivery latency p50 | 6.1 ms | 17.2 ms | – | 250.0 ms | 0.35× | – | 0.02× |",
		"| server CPU per call (connect-go's replies not compressed) | 6.0 µs | 60.0 µs | 0.10× |",
		"| typed unary calls/s (50 connections × 32 in flight) (connect-go's defaults: its client accepts gzip, so every reply is gzipped) | 120 000 | 10 000 | 12.0× |",
		"| typed room stream fan-out, 1000 receivers: msgs/s (plain binary broadcast of the same bytes) | 600 000 (800 000, 0.75×) |",
		"![How many times better sio is than each peer, per Socket.IO scenario](docs/bench/socketio.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the tables lack\n%s", want)
		}
	}
}

func TestCharts(t *testing.T) {
	charts := Charts(sample(t), Options{Loaded: 10})
	if len(charts) != len(chartNames) {
		t.Fatalf("%d charts, want %d", len(charts), len(chartNames))
	}
	for _, c := range charts {
		golden(t, c.File, c.SVG)
		dec := xml.NewDecoder(strings.NewReader(c.SVG))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", c.File, err)
			}
		}
	}
	// CPU per fan-out delivery against zishang520 is the widest bar, 120×,
	// so the axis reaches 200×; acks/s against it is 52× better, fan-out
	// latency 41×.
	s := charts[0].SVG
	for _, want := range []string{">200×</text>", "<title>zishang520: 120×</title>", "<title>zishang520: 52.0×</title>", "<title>zishang520: 41.0×</title>", "<title>raw echo: 1.08×</title>"} {
		if !strings.Contains(s, want) {
			t.Errorf("socketio.svg lacks %s", want)
		}
	}
	if !strings.Contains(charts[1].SVG, "<title>connect-go, replies not compressed: 10.0×</title>") {
		t.Error("typed.svg lacks the server CPU ratio against connect-go, 60 µs ÷ 6 µs")
	}
}

func TestAdvantage(t *testing.T) {
	lat := Metric{LowerBetter: true}
	if got := Advantage(lat, 50, 100); got != 2 {
		t.Errorf("half the latency: %v, want 2", got)
	}
	if got := Advantage(Metric{}, 50, 100); got != 0.5 {
		t.Errorf("half the rate: %v, want 0.5", got)
	}
	if got := Advantage(Metric{}, 50, math.NaN()); !math.IsNaN(got) {
		t.Errorf("without a peer's figure: %v, want NaN", got)
	}
}

func TestLogTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0.5, 2, "[0.5 1 2]"},
		{0.3, 52, "[0.2 0.5 1 2 5 10 20 50 100]"},
		{0.02, 1.5, "[0.02 0.05 0.1 0.2 0.5 1 2]"},
	} {
		var got []string
		for _, v := range logTicks(c.lo, c.hi) {
			got = append(got, strings.TrimSuffix(tickLabel(v), "×"))
		}
		if s := "[" + strings.Join(got, " ") + "]"; s != c.want {
			t.Errorf("logTicks(%v, %v) = %s, want %s", c.lo, c.hi, s, c.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# P\n\n## Latest run\n\n" + Begin + "\nold\n" + End + "\n\n## Next\n"
	got, err := ReplaceSection(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# P\n\n## Latest run\n\n" + Begin + "\nnew\n" + End + "\n\n## Next\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	again, _ := ReplaceSection(got, "new\n")
	if again != got {
		t.Error("replacing the same content again changed the document")
	}
	for _, bad := range []string{"no markers", End + Begin, Begin + Begin + End} {
		if _, err := ReplaceSection(bad, "x"); err == nil {
			t.Errorf("ReplaceSection(%q) did not fail", bad)
		}
	}
}

func TestNoFiguresOfOurs(t *testing.T) {
	r, _ := Read(strings.NewReader(`{"target":"node","scenario":"throughput","per_second":1}` + "\n"))
	if _, err := Markdown(r, Options{Loaded: 10}); !errors.Is(err, errMissing) {
		t.Errorf("got %v, want errMissing", err)
	}
}
