package app

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"provisioner"
)

// MaxAuditExport caps one export: the audit listing has no cursor to page
// with, so a larger window is refused rather than cut short.
const MaxAuditExport = 100_000

// ExportAudit writes the audit entries at or after since, oldest first, as
// JSON lines to the log store (S3 on AWS, files on the embedded service)
// under "audit/<since>-<now>.jsonl", and returns the key and the count.
// Administrators only.
func (a *App) ExportAudit(ctx context.Context, c Caller, since time.Time) (string, int, error) {
	key, n, err := a.exportAudit(ctx, c, since)
	err = a.audit(ctx, c, "audit.export", key, err, since.UTC().Format(time.RFC3339))
	return key, n, err
}

func (a *App) exportAudit(ctx context.Context, c Caller, since time.Time) (string, int, error) {
	if err := requireLevel(c.User, provisioner.LevelAdmin, "exporting the audit log"); err != nil {
		return "", 0, err
	}
	if a.jobs.logs == nil {
		return "", 0, provisioner.Errorf(provisioner.ENOTFOUND, "this provisioner has no log store to export to")
	}
	now := a.now().UTC()
	if since.IsZero() || since.After(now) {
		return "", 0, provisioner.Errorf(provisioner.EINVALID, "since must be a time in the past")
	}
	entries, err := a.store.ListAudit(ctx, provisioner.AuditFilter{Since: since, Limit: MaxAuditExport + 1})
	if err != nil {
		return "", 0, err
	}
	if len(entries) > MaxAuditExport {
		return "", 0, provisioner.Errorf(provisioner.ETOOLARGE, "more than %d audit entries since %s: export a shorter window",
			MaxAuditExport, since.UTC().Format(time.RFC3339))
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
	err = a.jobs.logs.Put(ctx, key, pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if Put stopped early
	if err != nil {
		return "", 0, err
	}
	return key, len(entries), nil
}
