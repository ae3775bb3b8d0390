package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"provisioner/cmd/provisioner/internal/iostreams"
)

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Table prints rows to standard output: aligned under a header on a
// terminal, bare tab-separated rows otherwise, so scripts can cut fields
// while people get columns.
func Table(ios *iostreams.IOStreams, header []string, rows [][]string) {
	out := ios.Out
	var tw *tabwriter.Writer
	if ios.IsStdoutTTY() {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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

// TableOf returns a text printer for a list: a Table of a row per item,
// made by row.
func TableOf[T any](ios *iostreams.IOStreams, header []string, row func(T) []string) func([]T) error {
	return func(items []T) error {
		rows := make([][]string, 0, len(items))
		for _, it := range items {
			rows = append(rows, row(it))
		}
		Table(ios, header, rows)
		return nil
	}
}

// Dash is s, or "-" for an empty table cell.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
