// Command growthreport writes the tables and charts of a
// scripts/bench-growth.sh run from its results (JSON lines): the SVG
// charts into -out, the tables on standard output, and, given -doc, the
// tables into that document between its <!-- growth:begin --> and
// <!-- growth:end --> markers, with links to the charts.
//
//	go run ./cmd/growthreport -results ../../.tmp/growth/results.jsonl -out ../../.tmp/growth/report
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sio-dev/sio/bench/peers/growth"
)

// The markers of the section the tables go in.
const (
	begin = "<!-- growth:begin -->"
	end   = "<!-- growth:end -->"
)

func main() {
	results := flag.String("results", ".tmp/growth/results.jsonl", "the run's results, one JSON object a line")
	out := flag.String("out", ".tmp/growth/report", "directory for the charts")
	doc := flag.String("doc", "", "a markdown document whose marked section gets the tables")
	flag.Parse()
	if err := run(*results, *out, *doc); err != nil {
		fmt.Fprintln(os.Stderr, "growthreport:", err)
		os.Exit(1)
	}
}

func run(results, out, doc string) error {
	f, err := os.Open(results)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := growth.Read(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, c := range growth.Curves {
		if svg := c.Chart(rows); svg != "" {
			if err := os.WriteFile(filepath.Join(out, c.File), []byte(svg), 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Print(growth.Markdown(rows, "."))
	if doc == "" {
		return nil
	}
	// The links are relative to the document, as its readers follow them.
	rel, err := filepath.Rel(filepath.Dir(doc), out)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	updated, err := growth.ReplaceSection(string(old), begin, end, growth.Markdown(rows, filepath.ToSlash(rel)))
	if err != nil {
		return err
	}
	return os.WriteFile(doc, []byte(updated), 0o644)
}
