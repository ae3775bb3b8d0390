package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"provisioner"
)

// TestCancelMidQuery cancels queries while they run: the store must answer
// with the context's error and stay usable, and an in-memory store must not
// lose its data (its one connection must survive the interrupt).
func TestCancelMidQuery(t *testing.T) {
	for name, db := range map[string]*DB{"File": openTemp(t), "Memory": openMemory(t)} {
		t.Run(name, func(t *testing.T) {
			defer db.Close()
			ctx := t.Context()
			for i := range 2000 {
				e := provisioner.AuditEntry{ID: fmt.Sprint(i), Time: time.Unix(int64(i), 0), Action: "access"}
				if err := db.AppendAudit(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 200 {
				qctx, cancel := context.WithTimeout(ctx, time.Duration(i)*20*time.Microsecond) // 0 to 4ms: some finish, some are cut short
				_, err := db.ListAudit(qctx, provisioner.AuditFilter{Limit: 2000, Action: "access"})
				cancel()
				if err != nil && provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
					t.Fatalf("canceled ListAudit: %v", err)
				}
			}
			got, err := db.ListAudit(ctx, provisioner.AuditFilter{Limit: 5000})
			if err != nil || len(got) != 2000 {
				t.Fatalf("after cancellations: %d entries, %v; want 2000", len(got), err)
			}
		})
	}
}
