package dynamodb

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
)

// budgetsPK is the one partition of budget ledgers; the sort key is the
// scope, attrDoc the ledger's fields as JSON. A provisioner keeps a
// handful.
const budgetsPK = "BUDGETS"

// GetBudgetLedger returns a scope's ledger with its revision, or
// ENOTFOUND. The read is strongly consistent.
func (s *Store) GetBudgetLedger(ctx context.Context, scope string) (provisioner.BudgetLedger, error) {
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "no budget ledger for %q", scope)
	return getLive(ctx, s, budgetsPK, scope, scope != "", notFound, "read budget ledger", func(it item) (provisioner.BudgetLedger, error) {
		var l provisioner.BudgetLedger
		doc, err := it.str(attrDoc)
		if err == nil {
			err = json.Unmarshal([]byte(doc), &l)
		}
		if err != nil {
			return l, provisioner.Wrap(provisioner.ESTORAGECORRUPT, err, "read budget ledger: %s is damaged", scope)
		}
		if l.Revision, err = it.num(attrRevision); err != nil {
			return l, err
		}
		l.Scope = scope
		return l, nil
	})
}

// ledgerItem is l's item at revision l.Revision+1 with the condition
// that the stored one is l.Revision (0: none). Ledgers are never
// deleted, so a counter is all a revision needs to be.
func ledgerItem(l provisioner.BudgetLedger) (it item, cond *string, names map[string]string, values item, err error) {
	if len(l.Scope) > maxKeyPart {
		return nil, nil, nil, nil, provisioner.Errorf(provisioner.EINVALID, "budget ledger scope is too long")
	}
	doc, err := json.Marshal(l)
	if err != nil {
		return nil, nil, nil, nil, provisioner.Wrap(provisioner.EINVALID, err, "budget ledger %q cannot be stored", l.Scope)
	}
	it = key(budgetsPK, l.Scope)
	it.setStr(attrDoc, string(doc))
	it.setNum(attrRevision, l.Revision+1)
	if l.Revision == 0 {
		return it, aws.String("attribute_not_exists(#pk)"), map[string]string{"#pk": attrPK}, nil, nil
	}
	return it, aws.String("#rev = :old"), map[string]string{"#rev": attrRevision}, item{":old": numAV(l.Revision)}, nil
}
