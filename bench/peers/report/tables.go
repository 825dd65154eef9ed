package report

import (
	"fmt"
	"math"
	"path"
	"strings"
)

// Begin and End mark the generated part of a document.
const (
	Begin = "<!-- bench:begin -->"
	End   = "<!-- bench:end -->"
)

// Options say how to write the tables.
type Options struct {
	// Loaded is the client count of the loaded latency scenario.
	Loaded int
	// ChartDir, if set, is where the charts are, relative to the
	// document: the tables are followed by their images.
	ChartDir string
}

// Markdown returns the tables of a run: the Socket.IO scenarios against
// every peer, then typed unary calls against connect-go, then the typed
// figures that have no peer.
func Markdown(r *Results, o Options) (string, error) {
	if r.find(Ours.ID, "throughput") == nil && r.find(Ours.ID, "goclient") == nil {
		return "", errMissing
	}
	var b strings.Builder
	b.WriteString(describe(r.Meta(), r.loads()))
	b.WriteString("\n\n| scenario | " + Ours.Name)
	for _, p := range Peers {
		b.WriteString(" | " + p.Name)
	}
	for _, n := range RatioNames {
		b.WriteString(" | " + n)
	}
	b.WriteString(" |\n|---" + strings.Repeat("|---", 2*len(Peers)+1) + "|\n")
	for _, m := range SocketIO(o.Loaded) {
		ours := r.value(Ours.ID, m, m.Key)
		label := m.Label
		if m.Key == "kib_per_connection" {
			label += idleNote(r.find(Ours.ID, "idle"))
		}
		b.WriteString("| " + label + " | " + cell(r, Ours.ID, m, ours))
		for _, p := range Peers {
			b.WriteString(" | " + cell(r, p.ID, m, r.value(p.ID, m, m.Key)))
		}
		for _, p := range Peers {
			b.WriteString(" | " + fmtRatio(Ratio(ours.v, r.value(p.ID, m, m.Key).v)))
		}
		b.WriteString(" |\n")
	}

	b.WriteString("\n| typed unary calls, `ChatService/SendMessage` | " + TypedOurs.Name + " | " + TypedPeer.Name + " | sio / connect-go |\n|---|---|---|---|\n")
	for i, sc := range TypedScenarios {
		for _, m := range Typed {
			ours, peer := r.typed(TypedOurs.ID, "", m), r.typed(TypedPeer.ID, sc.ID, m)
			label := m.Label + typedNotes[i]
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", label, fmtValue(ours, m), fmtValue(peer, m), fmtRatio(Ratio(ours.v, peer.v)))
		}
	}

	b.WriteString("\n| sio only | |\n|---|---|\n")
	per := func(scenario string) value {
		return r.value(Ours.ID, Metric{Scenario: scenario}, "per_second")
	}
	count := Metric{}
	fmt.Fprintf(&b, "| typed unary calls/s as raw frames, pipelined (`siobench -scenario rpc`, 50 × 32) | %s |\n", fmtValue(per("rpc"), count))
	bidi := r.find(Ours.ID, "bidi")
	fmt.Fprintf(&b, "| typed messages/s on bidirectional streams (50 × 32), p50 / p99 | %s, %s / %s |\n", fmtValue(per("bidi"), count),
		fmtValue(value{v: bidi.Num("p50_us")}, Metric{Unit: " µs"}), fmtValue(value{v: bidi.Num("p99_us")}, Metric{Unit: " µs"}))
	rf, bf := per("rpcfanout"), per("binfanout")
	fmt.Fprintf(&b, "| typed room stream fan-out, 1000 receivers: msgs/s (plain binary broadcast of the same bytes) | %s (%s, %s) |\n",
		fmtValue(rf, count), fmtValue(bf, count), fmtRatio(Ratio(rf.v, bf.v)))

	if o.ChartDir != "" {
		b.WriteString("\n")
		for _, c := range chartNames {
			fmt.Fprintf(&b, "![%s](%s)\n", c.alt, path.Join(o.ChartDir, c.file))
		}
	}
	return b.String(), nil
}

// cell is a figure, with its peak if the metric has one.
func cell(r *Results, target string, m Metric, v value) string {
	s := fmtValue(v, m)
	if m.Peak != "" && v.ok() {
		if p := r.value(target, m, m.Peak); p.ok() && math.Abs(p.v-v.v) >= 0.05 {
			s += " (" + fmtNum(p.v, m.Decimals) + " at peak)"
		}
	}
	if m.Busy && v.ok() {
		srv, tool := r.value(target, m, "server_cores_busy"), r.value(target, m, "load_cores_busy")
		if srv.ok() && tool.ok() {
			s += fmt.Sprintf(" (busy: server %.2f, tool %.2f)", srv.v/scaleOf(m), tool.v/scaleOf(m))
		}
	}
	return s
}

// scaleOf is the factor value applied to m's figures, undone for the
// figures beside them.
func scaleOf(m Metric) float64 {
	if m.Scale == 0 {
		return 1
	}
	return m.Scale
}

// idleNote says how many connections the idle scenario held, for how long.
func idleNote(row Row) string {
	if row == nil || math.IsNaN(row.Num("connections")) {
		return ""
	}
	note := " (" + fmtNum(row.Num("connections"), 0) + ", held " + fmtNum(row.Num("held_sec"), 0) + " s"
	if p := row.Num("pings_answered"); p > 0 {
		note += ", " + fmtNum(p, 0) + " pings answered"
	}
	return note + ")"
}

// loads lists the one-minute load average as each server's turn began.
func (r *Results) loads() []string {
	var ls []string
	for _, row := range r.Rows {
		if row.Str("target") == "load" {
			ls = append(ls, row.Str("of")+" "+row.Str("loadavg"))
		}
	}
	return ls
}

// describe is the sentence above the tables: when and how the run was made.
func describe(meta Row, loads []string) string {
	var parts []string
	if d := meta.Str("date"); d != "" {
		parts = append(parts, "Run of "+d)
	} else {
		parts = append(parts, "Run")
	}
	cmd := "`bash scripts/bench.sh`"
	if q, _ := meta["quick"].(bool); q {
		cmd = "`QUICK=1 bash scripts/bench.sh` (a smoke run: figures are not comparable to full runs)"
	}
	s := strings.Join(parts, "") + " by " + cmd
	var env []string
	for _, k := range []string{"duration", "idle", "idle_hold"} {
		if v, ok := meta[k]; ok {
			env = append(env, strings.ToUpper(k)+"="+fmt.Sprint(v))
		}
	}
	if len(env) > 0 {
		s += ", " + strings.Join(env, " ")
	}
	if l := meta.Str("loadavg"); l != "" {
		s += "; load average at the start " + l
	}
	if len(loads) > 0 {
		s += ", as each server's turn began " + strings.Join(loads, ", ")
	}
	return s + ". Ratios are within this run; every reply was checked."
}

// ReplaceSection returns doc with what lies between Begin and End replaced
// by content; both markers must be there, once, in that order.
func ReplaceSection(doc, content string) (string, error) {
	return ReplaceBetween(doc, Begin, End, content)
}

// ReplaceBetween returns doc with what lies between the markers begin and
// end replaced by content; both must be there, once, in that order.
func ReplaceBetween(doc, begin, end, content string) (string, error) {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i || strings.Count(doc, begin) != 1 || strings.Count(doc, end) != 1 {
		return "", fmt.Errorf("the document needs %s and %s, once each, in that order", begin, end)
	}
	return doc[:i+len(begin)] + "\n" + strings.TrimSpace(content) + "\n" + doc[j:], nil
}
