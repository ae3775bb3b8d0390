package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTTY reports whether w is an interactive terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// table prints rows aligned under a header on a terminal, and bare
// tab-separated rows otherwise, so scripts can cut fields while people get
// columns.
func table(w io.Writer, header []string, rows [][]string) {
	out := w
	var tw *tabwriter.Writer
	if isTTY(w) {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		out = tw
		rows = append([][]string{header}, rows...)
	}
	for _, r := range rows {
		fmt.Fprintln(out, strings.Join(r, "\t"))
	}
	if tw != nil {
		tw.Flush()
	}
}
