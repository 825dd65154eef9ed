// Command benchreport writes the tables and charts of a scripts/bench.sh
// run from its results (JSON lines): tables.md and the SVG charts into
// -out, the tables on standard output, and, given -doc, the tables into
// that document between its <!-- bench:begin --> and <!-- bench:end -->
// markers, with links to the charts.
//
//	go run ./cmd/benchreport -results ../../.tmp/bench/results.jsonl -out ../../.tmp/bench/report
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sio-dev/sio/bench/peers/report"
)

func main() {
	results := flag.String("results", ".tmp/bench/results.jsonl", "the run's results, one JSON object a line")
	out := flag.String("out", ".tmp/bench/report", "directory for tables.md and the charts")
	doc := flag.String("doc", "", "a markdown document whose marked section gets the tables")
	loaded := flag.Int("loaded", 10, "client count of the loaded latency scenario")
	flag.Parse()
	if err := run(*results, *out, *doc, *loaded); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(results, out, doc string, loaded int) error {
	f, err := os.Open(results)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := report.Read(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, c := range report.Charts(res, report.Options{Loaded: loaded}) {
		if err := os.WriteFile(filepath.Join(out, c.File), []byte(c.SVG), 0o644); err != nil {
			return err
		}
	}
	md, err := report.Markdown(res, report.Options{Loaded: loaded, ChartDir: "."})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "tables.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	if doc == "" {
		return nil
	}
	rel, err := filepath.Rel(filepath.Dir(doc), out)
	if err != nil {
		return err
	}
	md, err = report.Markdown(res, report.Options{Loaded: loaded, ChartDir: filepath.ToSlash(rel)})
	if err != nil {
		return err
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	updated, err := report.ReplaceSection(string(old), md)
	if err != nil {
		return err
	}
	return os.WriteFile(doc, []byte(updated), 0o644)
}
