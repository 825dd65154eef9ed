package growth

import (
	"strings"
	"testing"
)

const sample = `{"curve":"meta","date":"2026-12-04T19:00Z","knobs":"DURATION=5s","loadavg":"0.5","fd_limit":20000}
{"curve":"roomsize","x":100,"per_second":2000,"p50_us":300,"published":20,"server_cpu_us_per_delivered":1.5}
{"curve":"roomsize","x":10,"per_second":1000,"p50_us":200,"published":100,"server_cpu_us_per_delivered":3}
{"curve":"roomsize","x":1000,"failed":true,"error":"dial: too many open files"}
{"curve":"roomsize","x":100000,"skipped":"one process may open 20000 files"}
`

// TestTableRatios: rows come out by size, each cost as a ratio to the
// smallest size's, and a failed size says why.
func TestTableRatios(t *testing.T) {
	rows, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	table := Curves[0].Table(rows)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 6 {
		t.Fatalf("table:\n%s", table)
	}
	for i, want := range []string{"| 10 | 1 000 | 200 | 100 | – | 3.000 | 1.00× |", "| 100 | 2 000 | 300 | 20 | – | 1.500 | 0.50× |", "| 1 000 | failed: dial: too many open files |", "| 100 000 | not measured: one process may open 20000 files |"} {
		if lines[2+i] != want {
			t.Errorf("row %d: %q, want %q", i, lines[2+i], want)
		}
	}
	md := Markdown(rows, "docs/bench")
	if !strings.Contains(md, "Run of 2026-12-04T19:00Z") || !strings.Contains(md, "(docs/bench/growth-roomsize.svg)") || strings.Contains(md, "namespaces") {
		t.Errorf("markdown:\n%s", md)
	}
	if svg := Curves[0].Chart(rows); !strings.Contains(svg, "0.50×") || Curves[1].Chart(rows) != "" {
		t.Errorf("charts: %q", svg)
	}
}

func TestReplaceSection(t *testing.T) {
	got, err := ReplaceSection("a\n<!-- b -->\nold\n<!-- e -->\nz\n", "<!-- b -->", "<!-- e -->", "new\n")
	if err != nil || got != "a\n<!-- b -->\nnew\n<!-- e -->\nz\n" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := ReplaceSection("no markers", "<!-- b -->", "<!-- e -->", "x"); err == nil {
		t.Fatal("a document without markers was accepted")
	}
}
