// Package report turns the results of scripts/bench.sh (one JSON object a
// line, each a load tool's output with the target it ran against) into the
// markdown tables of PERFORMANCE.md's "Latest run" section and SVG charts
// of the ratios, every figure beside the same run's peers.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Row is one result line: a load tool's JSON output plus "target".
type Row map[string]any

// Results are one run's rows.
type Results struct {
	Rows []Row
}

// Read parses JSON lines; blank lines are skipped.
func Read(r io.Reader) (*Results, error) {
	rows, err := ReadRows(r)
	if err != nil {
		return nil, err
	}
	return &Results{Rows: rows}, nil
}

// ReadRows parses JSON lines into rows; blank lines are skipped.
func ReadRows(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var row Row
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// find returns the row of target and scenario, where scenario may name a
// client count as "latency@10"; a failed run's row is returned too (its
// figures are missing).
func (r *Results) find(target, scenario string) Row {
	name, clients, _ := strings.Cut(scenario, "@")
	for _, row := range r.Rows {
		if row.Str("target") != target || row.Str("scenario") != name {
			continue
		}
		if clients != "" && strconv.Itoa(int(row.Num("clients"))) != clients {
			continue
		}
		return row
	}
	return nil
}

// Meta is the run's description, the row of target "meta".
func (r *Results) Meta() Row {
	for _, row := range r.Rows {
		if row.Str("target") == "meta" {
			return row
		}
	}
	return Row{}
}

// Str is the text under key, "" if the row has none.
func (row Row) Str(key string) string {
	s, _ := row[key].(string)
	return s
}

// Num is the figure under key, NaN if the row has none.
func (row Row) Num(key string) float64 {
	v, ok := row[key].(float64)
	if !ok {
		return math.NaN()
	}
	return v
}

// value is one figure: NaN when the run has none, failed when it failed.
type value struct {
	v      float64
	failed bool
}

func (v value) ok() bool { return !math.IsNaN(v.v) && !v.failed }

// Target is a server of the run.
type Target struct {
	ID   string // the "target" of its rows
	Name string // as the tables name it
}

// The targets of the Socket.IO table, ours first.
var (
	Ours  = Target{"go", "Go (sio)"}
	Peers = []Target{{"node", "Node (socket.io 4.8)"}, {"raw", "raw echo"}, {"zishang", "zishang520"}}
	// RatioNames head the ratio columns, one for each of Peers.
	RatioNames = []string{"Go / Node", "Go / raw", "Go / zishang520"}
)

// Metric is one line of a table.
type Metric struct {
	Label    string // in the table
	Short    string // in a chart
	Scenario string // as the rows name it, with "@clients" if needed
	Key      string
	Unit     string  // after the figure
	Scale    float64 // the figure is the row's value times Scale (0: 1)
	Decimals int
	// LowerBetter is true of latencies, memory and CPU: a chart then
	// shows peer ÷ ours, so that longer bars are better for ours.
	LowerBetter bool
	// Peak, if set, is a key whose figure is given in parentheses.
	Peak string
	// Busy gives, in parentheses, how many cores the server and the load
	// tool kept busy over the run (each is pinned to one): the side near
	// 1.0 is what limited the rate.
	Busy bool
}

// SocketIO are the lines of the Socket.IO table, given the loaded
// latency scenario's client count.
func SocketIO(loaded int) []Metric {
	l := "latency@" + strconv.Itoa(loaded)
	n := strconv.Itoa(loaded)
	return []Metric{
		{Label: "ack round trip p50, 1 client, 1 call at a time", Short: "p50 latency, 1 client", Scenario: "latency@1", Key: "p50_us", Unit: " µs", LowerBetter: true},
		{Label: "ack round trip p99, 1 client", Short: "p99 latency, 1 client", Scenario: "latency@1", Key: "p99_us", Unit: " µs", LowerBetter: true},
		{Label: "ack round trip p50, " + n + " clients, 1 call each at a time", Short: "p50 latency, " + n + " clients", Scenario: l, Key: "p50_us", Unit: " µs", LowerBetter: true},
		{Label: "ack round trip p99, " + n + " clients", Short: "p99 latency, " + n + " clients", Scenario: l, Key: "p99_us", Unit: " µs", LowerBetter: true},
		{Label: "server CPU per ack, " + n + " clients", Short: "CPU per ack, " + n + " clients", Scenario: l, Key: "server_cpu_us_per_call", Unit: " µs", Decimals: 1, LowerBetter: true},
		{Label: "ack round trip p50 over HTTP long-polling, 10 clients", Short: "long-polling p50", Scenario: "polling", Key: "p50_us", Unit: " µs", LowerBetter: true},
		{Label: "acks/s over HTTP long-polling, 10 clients", Short: "long-polling acks/s", Scenario: "polling", Key: "per_second"},
		{Label: "server CPU per long-polling ack", Short: "CPU per long-polling ack", Scenario: "polling", Key: "server_cpu_us_per_call", Unit: " µs", Decimals: 1, LowerBetter: true},
		{Label: "acks/s (50 clients × 32 in flight, 16 B)", Short: "acks/s, 50 × 32", Scenario: "throughput", Key: "per_second", Busy: true},
		{Label: "server CPU per ack, 50 × 32", Short: "CPU per ack, 50 × 32", Scenario: "throughput", Key: "server_cpu_us_per_call", Unit: " µs", Decimals: 2, LowerBetter: true},
		{Label: "ack round trip p50, 50 × 32 in flight", Short: "p50 latency, 50 × 32", Scenario: "throughput", Key: "p50_us", Unit: " µs", LowerBetter: true},
		{Label: "ack round trip p99, 50 × 32 in flight", Short: "p99 latency, 50 × 32", Scenario: "throughput", Key: "p99_us", Unit: " µs", LowerBetter: true},
		{Label: "ack round trip p99.9, 50 × 32 in flight", Short: "p99.9 latency, 50 × 32", Scenario: "throughput", Key: "p999_us", Unit: " µs", LowerBetter: true},
		{Label: "64 KiB binary acks (8 × 4 in flight)", Short: "64 KiB binary acks", Scenario: "binary", Key: "mb_per_sec", Unit: " MB/s", Busy: true},
		{Label: "server CPU per 64 KiB binary ack", Short: "CPU per 64 KiB ack", Scenario: "binary", Key: "server_cpu_us_per_call", Unit: " µs", Decimals: 1, LowerBetter: true},
		{Label: "room fan-out, 1000 receivers: delivered msgs/s", Short: "fan-out msgs/s", Scenario: "fanout", Key: "per_second", Busy: true},
		{Label: "room fan-out delivery latency p50", Short: "fan-out p50 latency", Scenario: "fanout", Key: "p50_us", Unit: " ms", Scale: 1e-3, Decimals: 1, LowerBetter: true},
		{Label: "server CPU per delivered fan-out message", Short: "CPU per fan-out delivery", Scenario: "fanout", Key: "server_cpu_us_per_delivered", Unit: " µs", Decimals: 2, LowerBetter: true},
		{Label: "server RSS per idle WebSocket connection", Short: "RSS per idle connection", Scenario: "idle", Key: "kib_per_connection", Unit: " KiB", Decimals: 1, LowerBetter: true, Peak: "peak_kib_per_connection"},
		{Label: "connections opened per second", Short: "connections/s", Scenario: "idle", Key: "connect_per_second"},
	}
}

// The typed table compares our generated Go client's unary calls (siobench
// goclient, with the server's pid) with connect-go's (cmd/connectbench).
var (
	TypedOurs = Target{"go", "sio (typed, Go client)"}
	TypedPeer = Target{"connect", "connect-go (h2c)"}
	// TypedScenarios are connect-go's runs: replies not compressed, and
	// its defaults (the client accepts gzip, so the handler compresses
	// every reply, however small).
	TypedScenarios = []Target{{"connect", "connect-go, replies not compressed"}, {"connect-gzip", "connect-go, its defaults (gzip)"}}
	// typedNotes tell the table's reader which of TypedScenarios a line is.
	typedNotes = []string{" (connect-go's replies not compressed)", " (connect-go's defaults: its client accepts gzip, so every reply is gzipped)"}
	Typed      = []Metric{
		{Label: "typed unary calls/s (50 connections × 32 in flight)", Short: "calls/s", Key: "per_second"},
		{Label: "server CPU per call", Short: "server CPU per call", Key: "server_cpu_us_per_call", Unit: " µs", Decimals: 1, LowerBetter: true},
		{Label: "client CPU per call", Short: "client CPU per call", Key: "client_cpu_us_per_call", Unit: " µs", Decimals: 1, LowerBetter: true},
	}
)

func (r *Results) value(target string, m Metric, key string) value {
	row := r.find(target, m.Scenario)
	if row == nil {
		return value{v: math.NaN()}
	}
	if failed, _ := row["failed"].(bool); failed {
		return value{v: math.NaN(), failed: true}
	}
	scale := m.Scale
	if scale == 0 {
		scale = 1
	}
	return value{v: row.Num(key) * scale}
}

// typed returns a typed metric's figure: ours from the goclient scenario,
// connect-go's from the given one of TypedScenarios.
func (r *Results) typed(target, scenario string, m Metric) value {
	m.Scenario = "goclient"
	if target == TypedPeer.ID {
		m.Scenario = scenario
	}
	return r.value(target, m, m.Key)
}

// Ratio is ours ÷ peer, as the tables give it; Advantage is how many times
// better ours is (the ratio, or its inverse where lower is better), as the
// charts give it. Both are NaN without both figures.
func Ratio(ours, peer float64) float64 {
	if math.IsNaN(ours) || math.IsNaN(peer) || peer == 0 {
		return math.NaN()
	}
	return ours / peer
}

// Advantage is how many times better ours is than peer on metric m.
func Advantage(m Metric, ours, peer float64) float64 {
	r := Ratio(ours, peer)
	if m.LowerBetter && r > 0 {
		return 1 / r
	}
	return r
}

// errMissing is returned when a run has none of the figures of a table.
var errMissing = errors.New("report: the results hold no figure of ours")

// fmtNum writes a figure with thousands grouped by spaces, as
// PERFORMANCE.md does.
func fmtNum(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func fmtValue(v value, m Metric) string {
	switch {
	case v.failed:
		return "failed"
	case !v.ok():
		return "–"
	}
	return fmtNum(v.v, m.Decimals) + m.Unit
}

// fmtRatio gives two significant decimals below 10, one below 100.
func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 0, 64) + "×"
}
