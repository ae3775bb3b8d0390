package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"provisioner"
)

// maxGroup bounds the statements of one group commit.
const maxGroup = 256

// groupWrite is one statement waiting for a group commit.
type groupWrite struct {
	query string
	args  []any
	done  chan error // buffered: the committer never blocks on it
}

// committer runs small independent writes (audit entries) in shared
// transactions: every access appends one, and one SQLite commit per entry
// makes the single writer the bottleneck. Writes that arrive while a
// commit runs wait for it and go in the next one together; a lone write
// waits for nothing (no timer), so batching costs no latency when idle.
// A write's caller hears back only after its transaction committed: what
// was acknowledged is in the database.
type committer struct {
	db *DB

	mu      sync.Mutex
	queue   []groupWrite
	running bool          // a goroutine is committing the queue
	closed  bool          // the store is closing: no new writes
	idle    chan struct{} // closed when the running goroutine stops
	commits int           // transactions so far, for tests and benchmarks
}

// exec runs query in the next group commit and returns its own outcome: a
// statement that fails (a duplicate id) fails alone, since SQLite undoes
// only that statement and the transaction goes on.
func (c *committer) exec(ctx context.Context, query string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err // a done context writes nothing
	}
	w := groupWrite{query: query, args: args, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return provisioner.Errorf(provisioner.EUNAVAILABLE, "the store is closing")
	}
	c.queue = append(c.queue, w)
	if !c.running {
		c.running = true
		c.idle = make(chan struct{})
		go c.run(c.idle)
	}
	c.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
	}
	// Given up while still queued: withdrawn, nothing written. Already in
	// a transaction: its outcome is the caller's, one commit away, so that
	// a write reported as failed is never in the database.
	c.mu.Lock()
	for i, q := range c.queue {
		if q.done == w.done {
			c.queue = append(c.queue[:i:i], c.queue[i+1:]...)
			c.mu.Unlock()
			return ctx.Err()
		}
	}
	c.mu.Unlock()
	return <-w.done
}

// close refuses new writes and waits for the queued ones to be committed.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	idle := c.idle
	running := c.running
	c.mu.Unlock()
	if running {
		<-idle
	}
}

// run commits the queue in groups until it is empty, then closes idle.
func (c *committer) run(idle chan struct{}) {
	for {
		c.mu.Lock()
		n := min(len(c.queue), maxGroup)
		if n == 0 {
			c.running = false
			close(idle)
			c.mu.Unlock()
			return
		}
		group := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.mu.Unlock()
		c.commit(group)
		c.mu.Lock()
		c.commits++
		c.mu.Unlock()
	}
}

func (c *committer) commit(group []groupWrite) {
	// Each write has its own caller's deadline; the group must not die with
	// one of them, so it runs on its own.
	ctx := context.Background()
	results := make([]error, len(group))
	// Prepared before the transaction: the writer has one connection, which
	// the transaction holds.
	stmts := make([]*sql.Stmt, len(group))
	for i, w := range group {
		stmts[i] = c.db.w.stmt(ctx, w.query)
	}
	err := c.db.writeTx(ctx, func(tx *sql.Tx) error {
		for i, w := range group {
			if st := stmts[i]; st != nil {
				_, results[i] = tx.StmtContext(ctx, st).ExecContext(ctx, w.args...)
			} else {
				_, results[i] = tx.ExecContext(ctx, w.query, w.args...)
			}
			if results[i] != nil && !constraint(results[i]) {
				// Anything but a refused row (a full disk, say) may have
				// ended the transaction: the whole group fails.
				return results[i]
			}
		}
		return nil
	})
	for i, w := range group {
		if err != nil {
			results[i] = err // nothing of the group committed
		}
		w.done <- results[i]
	}
}

// constraint reports a row refused by a constraint (a duplicate id): SQLite
// undoes that statement only and the transaction goes on.
func constraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
