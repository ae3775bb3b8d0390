package s3

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"provisioner"
)

// MaxAuditExport caps the entries of one ExportAudit: the store's audit
// listing has no cursor to page with, so a larger window is refused rather
// than cut short.
const MaxAuditExport = 100_000

// AuditLister is the part of provisioner.Store that ExportAudit reads.
type AuditLister interface {
	ListAudit(ctx context.Context, f provisioner.AuditFilter) ([]provisioner.AuditEntry, error)
}

// ExportAudit writes the audit entries at or after since, oldest first, as
// JSON lines to logs under "audit/<since>-<now>.jsonl" (times in UTC, like
// 20260102T150405Z) and returns the key and the number of entries. It works
// with any LogStore. More than MaxAuditExport entries is ETOOLARGE: export a
// shorter window.
func ExportAudit(ctx context.Context, logs provisioner.LogStore, store AuditLister, since time.Time) (string, int, error) {
	now := provisioner.Now().UTC()
	entries, err := store.ListAudit(ctx, provisioner.AuditFilter{Since: since, Limit: MaxAuditExport + 1})
	if err != nil {
		return "", 0, err
	}
	if len(entries) > MaxAuditExport {
		return "", 0, provisioner.Errorf(provisioner.ETOOLARGE, "more than %d audit entries since %s: export a shorter window", MaxAuditExport, since.UTC().Format(time.RFC3339))
	}
	const stamp = "20060102T150405Z"
	key := "audit/" + since.UTC().Format(stamp) + "-" + now.Format(stamp) + ".jsonl"

	pr, pw := io.Pipe()
	go func() {
		enc := json.NewEncoder(pw)
		for i := len(entries) - 1; i >= 0; i-- { // ListAudit is newest first
			if err := enc.Encode(entries[i]); err != nil {
				pw.CloseWithError(provisioner.Wrap(provisioner.EINTERNAL, err, "cannot encode audit entry"))
				return
			}
		}
		pw.Close()
	}()
	err = logs.Put(ctx, key, pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if Put stopped early
	if err != nil {
		return "", 0, err
	}
	return key, len(entries), nil
}
