// Package prices is the price table estimates are made from: the one
// shipped with the binary (prices.json), the layers read over it (a table
// refreshed from the AWS Price List API, then the operator's overrides),
// and the refresh itself, through the Source interface (the AWS adapter
// is aws/pricing; tests replay recorded answers).
package prices

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"provisioner"
)

//go:embed prices.json
var shipped []byte

// Shipped is the table shipped with the binary. A test keeps it valid and
// covering provisioner.DefaultLayout's types in every region it names.
func Shipped() provisioner.PriceTable {
	t, err := Parse(shipped, false)
	if err != nil {
		panic("prices: the shipped table is invalid: " + err.Error())
	}
	return t
}

// maxTable bounds a table's size: it is read on requests.
const maxTable = 1 << 20

// Parse reads a table strictly (no unknown fields, one JSON object) and
// validates it; partial accepts missing prices, as an override has.
func Parse(data []byte, partial bool) (provisioner.PriceTable, error) {
	if len(data) > maxTable {
		return provisioner.PriceTable{}, provisioner.Errorf(provisioner.EINVALID, "price table is larger than %d bytes", maxTable)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t provisioner.PriceTable
	if err := dec.Decode(&t); err != nil {
		return provisioner.PriceTable{}, provisioner.Errorf(provisioner.EINVALID, "price table: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return provisioner.PriceTable{}, provisioner.Errorf(provisioner.EINVALID, "price table: one JSON object expected")
	}
	if err := t.Validate(partial); err != nil {
		return provisioner.PriceTable{}, err
	}
	if t.Currency == "" {
		t.Currency = "USD"
	}
	return t, nil
}

// Encode writes t as the indented JSON Parse reads.
func Encode(t provisioner.PriceTable) ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Loader reads a layer's table: given the stamp it returned last it may
// answer unchanged with nil data and the same stamp. ErrAbsent (wrapped or
// not) says there is no such table yet.
type Loader func(ctx context.Context, stamp string) (data []byte, newStamp string, err error)

// ErrAbsent is a Loader's answer for a table that does not exist.
var ErrAbsent = errors.New("no such price table")

// FileLoader reads path when its modification time or size changed; a
// missing file is ErrAbsent.
func FileLoader(path string) Loader {
	return func(_ context.Context, stamp string) ([]byte, string, error) {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: %w", path, ErrAbsent)
		} else if err != nil {
			return nil, "", err
		}
		st := fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
		if st == stamp {
			return nil, st, nil
		}
		data, err := os.ReadFile(path)
		return data, st, err
	}
}

// Layer is a table read over the shipped one: What names it in logs,
// Partial allows missing prices (an override), Optional makes an absent
// table no error (a refreshed table before the first refresh).
type Layer struct {
	What     string
	Load     Loader
	Partial  bool
	Optional bool
}

// Book is the table in force: the shipped table with each layer merged
// over it in order, each layer looked at again at most once per Every. A
// layer that fails to read or parse keeps its last good table (none at
// first), and the reason is logged once per distinct error.
type Book struct {
	base   provisioner.PriceTable
	layers []*layer
	every  time.Duration
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	next   time.Time
	merged provisioner.PriceTable
}

type layer struct {
	Layer
	stamp   string
	table   provisioner.PriceTable
	good    bool
	lastErr string
}

// Options tune a Book.
type Options struct {
	Every  time.Duration    // how often the layers are looked at (default 1 minute)
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // the clock (tests)
}

// NewBook returns a Book over base; it reads nothing until first asked
// (a Lambda's cold start makes no call).
func NewBook(base provisioner.PriceTable, o Options, layers ...Layer) *Book {
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Book{base: base, every: o.Every, log: o.Logger, now: o.Now, merged: base}
	for _, l := range layers {
		b.layers = append(b.layers, &layer{Layer: l})
	}
	return b
}

// Check reads every layer now and returns the first error: serve refuses
// to start on a bad override file.
func (b *Book) Check(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.layers {
		if err := l.read(ctx); err != nil {
			return fmt.Errorf("price table %s: %v", l.What, err)
		}
	}
	b.merge()
	b.next = b.now().Add(b.every)
	return nil
}

// PriceTable implements provisioner.Prices.
func (b *Book) PriceTable(ctx context.Context) (provisioner.PriceTable, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.now().Before(b.next) {
		b.next = b.now().Add(b.every)
		for _, l := range b.layers {
			err := l.read(ctx)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if msg != "" && msg != l.lastErr {
				b.log.Error("prices: keeping the last good table of a layer", "layer", l.What, "err", err)
			}
			l.lastErr = msg
		}
		b.merge()
	}
	return b.merged, nil
}

func (b *Book) merge() {
	t := b.base
	for _, l := range b.layers {
		if l.good {
			t = t.Merge(l.table)
		}
	}
	b.merged = t
}

// read refreshes the layer's table; on an error the last good one stays.
func (l *layer) read(ctx context.Context) error {
	data, stamp, err := l.Load(ctx, l.stamp)
	if errors.Is(err, ErrAbsent) && l.Optional {
		// Not there (yet, or any more): nothing to merge.
		l.table, l.stamp, l.good = provisioner.PriceTable{}, "", false
		return nil
	}
	if err != nil {
		return err
	}
	if l.good && data == nil && stamp == l.stamp {
		return nil
	}
	t, err := Parse(data, l.Partial)
	if err != nil {
		return err
	}
	l.table, l.stamp, l.good = t, stamp, true
	return nil
}
