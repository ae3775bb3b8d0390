package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"provisioner"
)

// GetBudgetLedger returns a scope's ledger with its revision, or ENOTFOUND.
func (db *DB) GetBudgetLedger(ctx context.Context, scope string) (provisioner.BudgetLedger, error) {
	var rev int64
	var doc string
	err := db.r.QueryRowContext(ctx, `SELECT revision, doc FROM budget_ledgers WHERE scope = ?`, scope).Scan(&rev, &doc)
	if errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		return provisioner.BudgetLedger{}, provisioner.Errorf(provisioner.ENOTFOUND, "no budget ledger for %q", scope)
	}
	if err != nil {
		return provisioner.BudgetLedger{}, storeError(ctx, err, "read budget ledger")
	}
	var l provisioner.BudgetLedger
	if err := json.Unmarshal([]byte(doc), &l); err != nil {
		return provisioner.BudgetLedger{}, provisioner.Wrap(provisioner.ESTORAGECORRUPT, err, "read budget ledger: %s is damaged", scope)
	}
	l.Scope, l.Revision = scope, rev
	return l, nil
}

// putLedger writes l in tx if the stored revision is l.Revision (0: none
// stored), else ECONFLICT.
func putLedger(ctx context.Context, tx *sql.Tx, l provisioner.BudgetLedger, doc []byte) error {
	var res sql.Result
	var err error
	if l.Revision == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO budget_ledgers (scope, revision, doc) VALUES (?, 1, ?) ON CONFLICT (scope) DO NOTHING`, l.Scope, string(doc))
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE budget_ledgers SET revision = revision + 1, doc = ? WHERE scope = ? AND revision = ?`, string(doc), l.Scope, l.Revision)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return provisioner.Errorf(provisioner.ECONFLICT, "budget ledger %q was changed by another request", l.Scope)
	}
	return nil
}
