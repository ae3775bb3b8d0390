package provisioner

// MaxBatch bounds the records of one Batch (cluster, operations, events
// and audit entries together). DynamoDB writes a batch as one transaction
// of at most 100 items, where an event or an audit entry takes two (the
// record and its ID guard).
const MaxBatch = 40

// Batch is writes that belong together: a cluster's new state, the
// operations it starts or ends, and the events and audit entries that
// record the change. Store.Apply writes all of it or none of it, so no
// crash or failure between writes leaves a change without its record (or
// a record of a change that did not happen).
type Batch struct {
	// Cluster, when set, is written under PutCluster's compare-and-swap
	// (its Revision is the revision expected), or deleted under
	// DeleteCluster's rule when DeleteCluster is set.
	Cluster       *Cluster
	DeleteCluster bool
	// NodeGroup, when set, is written under PutNodeGroup's
	// compare-and-swap (its Revision is the revision expected). A batch
	// changes a cluster or a node group, not both; Apply returns the
	// revision it wrote.
	NodeGroup *NodeGroup
	// Operations are created or replaced, as by PutOperation.
	Operations []Operation
	// Events and Audit are appended, as by AppendEvent and AppendAudit:
	// ID and Time are set by the caller, and an ID in use is ECONFLICT.
	Events []Event
	Audit  []AuditEntry
	// Budgets are budget ledgers, each written if the stored revision is
	// its Revision (0: no record may exist), at Revision+1; else the
	// batch is ECONFLICT. A reservation rides with the change it pays
	// for, so neither lands without the other.
	Budgets []BudgetLedger
}

// Len is the number of records in b.
func (b Batch) Len() int {
	n := len(b.Operations) + len(b.Events) + len(b.Audit) + len(b.Budgets)
	if b.Cluster != nil {
		n++
	}
	if b.NodeGroup != nil {
		n++
	}
	return n
}

// Validate refuses (EINVALID) what no store applies: more than MaxBatch
// records, a delete without a cluster, a record without its ID (or an
// event or entry without its time, or a ledger without its scope), and an
// ID (or scope) twice in one batch.
func (b Batch) Validate() error {
	if n := b.Len(); n > MaxBatch {
		return Errorf(EINVALID, "a batch of %d records is more than the %d one write may hold", n, MaxBatch)
	}
	if c := b.Cluster; c != nil {
		switch {
		case c.Name == "":
			return Errorf(EINVALID, "cluster name is required")
		case c.Revision < 0:
			return Errorf(EINVALID, "cluster revision must not be negative")
		}
	} else if b.DeleteCluster {
		return Errorf(EINVALID, "a batch that deletes a cluster must name it")
	}
	if g := b.NodeGroup; g != nil {
		switch {
		case b.Cluster != nil:
			return Errorf(EINVALID, "a batch changes a cluster or a node group, not both")
		case g.Cluster == "" || g.User == "":
			return Errorf(EINVALID, "node group cluster and user are required")
		case g.Revision < 0:
			return Errorf(EINVALID, "node group revision must not be negative")
		}
	}
	scopes := map[string]bool{}
	for _, l := range b.Budgets {
		if err := l.Validate(); err != nil {
			return err
		}
		if scopes[l.Scope] {
			return Errorf(EINVALID, "budget ledger %q is twice in the batch", l.Scope)
		}
		scopes[l.Scope] = true
	}
	ops := map[string]bool{}
	for _, op := range b.Operations {
		if op.ID == "" {
			return Errorf(EINVALID, "operation id is required")
		}
		if ops[op.ID] {
			return Errorf(EINVALID, "operation %q is twice in the batch", op.ID)
		}
		ops[op.ID] = true
	}
	events := map[string]bool{}
	for _, e := range b.Events {
		if err := e.Validate(); err != nil {
			return err
		}
		if events[e.ID] {
			return Errorf(EINVALID, "event %q is twice in the batch", e.ID)
		}
		events[e.ID] = true
	}
	entries := map[string]bool{}
	for _, e := range b.Audit {
		switch {
		case e.ID == "":
			return Errorf(EINVALID, "audit entry id is required")
		case e.Time.IsZero():
			return Errorf(EINVALID, "audit entry time is required")
		case entries[e.ID]:
			return Errorf(EINVALID, "audit entry %q is twice in the batch", e.ID)
		}
		entries[e.ID] = true
	}
	return nil
}
