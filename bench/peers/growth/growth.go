// Package growth turns the results of scripts/bench-growth.sh (one JSON
// object a line: a load tool's output with the curve and the size it was
// measured at) into the tables of PERFORMANCE.md's "How costs grow"
// section and one SVG line chart per curve. Every table gives each cost
// as a ratio to the cost at the curve's smallest size: flat is 1.00×.
package growth

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sio-dev/sio/bench/peers/report"
)

// Row is one result line: a load tool's JSON output plus "curve" and "x".
type Row = report.Row

// Read parses JSON lines; blank lines are skipped.
func Read(r io.Reader) ([]Row, error) { return report.ReadRows(r) }

// Column is one figure of a curve's table.
type Column struct {
	Key, Label string
	Digits     int // decimals shown
}

// Curve is one measured growth: its rows have "curve" equal to ID, and
// Cost is the figure whose flatness the table and chart show.
type Curve struct {
	ID, File, Title, X string
	Cost               Column
	Others             []Column
}

// Curves are the curves scripts/bench-growth.sh measures, in the order
// the section shows them.
var Curves = []Curve{
	{
		ID: "roomsize", File: "growth-roomsize.svg", Title: "Fan-out: server CPU per delivered message by room size", X: "members",
		Cost:   Column{"server_cpu_us_per_delivered", "server CPU per delivered message (µs)", 3},
		Others: []Column{{"per_second", "delivered msgs/s", 0}, {"p50_us", "delivery latency p50 (µs)", 0}, {"published", "broadcasts", 0}, {"server_writes_per_delivered", "server writes per delivered message", 2}},
	},
	{
		ID: "rooms", File: "growth-rooms.svg", Title: "Fan-out over many rooms: server CPU per delivered message by number of rooms", X: "rooms",
		Cost:   Column{"server_cpu_us_per_delivered", "server CPU per delivered message (µs)", 3},
		Others: []Column{{"per_second", "delivered msgs/s", 0}, {"p50_us", "delivery latency p50 (µs)", 0}, {"server_writes_per_delivered", "server writes per delivered message", 2}},
	},
	{
		ID: "namespaces", File: "growth-namespaces.svg", Title: "Pipelined acks: server CPU per ack by number of namespaces", X: "namespaces",
		Cost:   Column{"server_cpu_us_per_call", "server CPU per ack (µs)", 3},
		Others: []Column{{"per_second", "acks/s", 0}, {"p50_us", "round trip p50 (µs)", 0}},
	},
	{
		ID: "memory", File: "growth-memory.svg", Title: "Idle connections: server memory per connection by connections held", X: "connections",
		Cost:   Column{"kib_per_connection", "server RSS per connection, end of hold (KiB)", 1},
		Others: []Column{{"servers", "server processes", 0}, {"peak_kib_per_connection", "server RSS per connection at peak (KiB)", 1}, {"connect_per_second", "connections opened/s", 0}},
	},
}

// points are the curve's rows, by size; a size measured twice keeps its
// last row (a rerun replaces a failed one).
func (c Curve) points(rows []Row) []Row {
	bySize := map[float64]Row{}
	for _, r := range rows {
		if r.Str("curve") == c.ID && !math.IsNaN(r.Num("x")) {
			bySize[r.Num("x")] = r
		}
	}
	var out []Row
	for _, r := range bySize {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Row) int { return int(a.Num("x") - b.Num("x")) })
	return out
}

// base is the cost at the smallest size that has one, NaN if none has.
func (c Curve) base(pts []Row) float64 {
	for _, p := range pts {
		if v := p.Num(c.Cost.Key); v > 0 {
			return v
		}
	}
	return math.NaN()
}

// Table is the curve's markdown table: a row per size, its figures, the
// cost, and the cost as a ratio to the smallest size's.
func (c Curve) Table(rows []Row) string {
	pts := c.points(rows)
	if len(pts) == 0 {
		return ""
	}
	var b strings.Builder
	head := []string{c.X}
	for _, col := range c.Others {
		head = append(head, col.Label)
	}
	head = append(head, c.Cost.Label, "cost / cost at "+fmtInt(pts[0].Num("x")))
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	base := c.base(pts)
	for _, p := range pts {
		cells := []string{fmtInt(p.Num("x"))}
		if why := p.Str("skipped"); why != "" {
			cells = append(cells, "not measured: "+strings.ReplaceAll(why, "|", "/"))
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
			continue
		}
		if p["failed"] == true {
			cells = append(cells, "failed: "+strings.ReplaceAll(p.Str("error"), "|", "/"))
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
			continue
		}
		for _, col := range c.Others {
			cells = append(cells, fmtNum(p.Num(col.Key), col.Digits))
		}
		cost := p.Num(c.Cost.Key)
		cells = append(cells, fmtNum(cost, c.Cost.Digits), fmtRatio(cost/base))
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	return b.String()
}

// Markdown is every curve's table under its title, with a link to its
// chart in chartDir, after a line saying when and how the run was made.
func Markdown(rows []Row, chartDir string) string {
	var b strings.Builder
	for _, r := range rows {
		if r.Str("curve") == "meta" {
			fmt.Fprintf(&b, "Run of %s by `bash scripts/bench-growth.sh` (%s), server pinned to core 1 and load to core 0 (idle connections: neither, as `scripts/idle-scale.sh` runs them); load average at the start %s; file limit per process %s. Every reply was checked.\n\n",
				r.Str("date"), r.Str("knobs"), r.Str("loadavg"), fmtInt(r.Num("fd_limit")))
		}
	}
	for _, c := range Curves {
		t := c.Table(rows)
		if t == "" {
			continue
		}
		fmt.Fprintf(&b, "**%s** ([chart](%s/%s))\n\n%s\n", c.Title, chartDir, c.File, t)
	}
	return b.String()
}

// ReplaceSection puts content between begin and end in doc, which must
// hold each marker once, in that order.
func ReplaceSection(doc, begin, end, content string) (string, error) {
	return report.ReplaceBetween(doc, begin, end, content)
}

func fmtInt(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	// Thousands apart by a space, as the rest of PERFORMANCE.md writes them.
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

func fmtNum(v float64, digits int) string {
	if math.IsNaN(v) {
		return "–"
	}
	if digits == 0 {
		return fmtInt(v)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}
