package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"provisioner"
)

// Apply writes b in one write transaction: the cluster (PutCluster's or
// DeleteCluster's rule) or the node group (PutNodeGroup's), the budget ledgers (each under its revision),
// then the operations, events and audit entries.
// Any error rolls all of it back.
func (db *DB) Apply(ctx context.Context, b provisioner.Batch) (int64, error) {
	if err := b.Validate(); err != nil {
		return 0, err
	}
	if b.Len() == 0 {
		return 0, nil
	}
	// Rows first: a bad time is refused before the transaction starts.
	type write struct {
		query string
		args  []any
	}
	var writes []write
	ledgers := make([][]byte, len(b.Budgets))
	for i, l := range b.Budgets {
		doc, err := json.Marshal(l)
		if err != nil {
			return 0, provisioner.Wrap(provisioner.EINVALID, err, "budget ledger %q cannot be stored", l.Scope)
		}
		ledgers[i] = doc
	}
	for _, op := range b.Operations {
		args, err := operationRow(op)
		if err != nil {
			return 0, err
		}
		writes = append(writes, write{putOperationSQL, args})
	}
	for _, e := range b.Events {
		args, err := eventRow(e)
		if err != nil {
			return 0, err
		}
		writes = append(writes, write{appendEventSQL, args})
	}
	for _, e := range b.Audit {
		args, err := auditRow(e)
		if err != nil {
			return 0, err
		}
		writes = append(writes, write{appendAuditSQL, args})
	}
	// Prepared before the transaction: the writer has one connection,
	// which the transaction holds.
	stmts := make([]*sql.Stmt, len(writes))
	for i, w := range writes {
		stmts[i] = db.w.stmt(ctx, w.query)
	}
	var rev int64
	err := db.writeTx(ctx, func(tx *sql.Tx) (err error) {
		switch c := b.Cluster; {
		case c != nil && b.DeleteCluster:
			err = deleteCluster(ctx, tx, c.Name, c.Revision)
		case c != nil:
			rev, err = putCluster(ctx, tx, *c)
		case b.NodeGroup != nil:
			rev, err = putNodeGroup(ctx, tx, *b.NodeGroup)
		}
		if err != nil {
			return err
		}
		for i, l := range b.Budgets {
			if err := putLedger(ctx, tx, l, ledgers[i]); err != nil {
				return err
			}
		}
		for i, w := range writes {
			if st := stmts[i]; st != nil {
				_, err = tx.StmtContext(ctx, st).ExecContext(ctx, w.args...)
			} else {
				_, err = tx.ExecContext(ctx, w.query, w.args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, storeError(ctx, err, "save changes")
	}
	return rev, nil
}
