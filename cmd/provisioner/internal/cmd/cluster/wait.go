package cluster

import (
	"context"
	"fmt"
	"time"

	"provisioner"
	"provisioner/client"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// follower reports a DEPLOY or DESTROY and, asked to, follows it to its end.
type follower struct {
	io   *iostreams.IOStreams
	now  func() time.Time
	json bool
	c    *client.Client
}

// finish reports a DEPLOY or DESTROY: done, pending, or followed to its end
// with progress on a terminal and plain lines elsewhere.
func (fl follower) finish(ctx context.Context, verb, cluster string, res client.LongResult, err error, wait bool, timeout time.Duration) error {
	if err != nil {
		return err
	}
	if res.Done {
		return printStatus(fl.io, fl.json, res.Status)
	}
	if !wait {
		if fl.json {
			return cmdutil.PrintJSON(fl.io.Out, res.Operation)
		}
		fmt.Fprintf(fl.io.ErrOut, "%s of %s started (operation %s); follow it with 'provisioner status %s'\n", verb, cluster, res.Operation.ID, cluster)
		return nil
	}
	op, err := fl.wait(ctx, res.Operation, timeout)
	if err != nil {
		return err
	}
	if op.State == provisioner.OpFailure {
		return &provisioner.Error{Code: op.ErrorCode, Message: op.Message}
	}
	st, err := fl.c.Status(ctx, cluster)
	if err != nil {
		return err
	}
	return printStatus(fl.io, fl.json, st)
}

// wait long-polls an operation until it ends or timeout passes.
func (fl follower) wait(ctx context.Context, op provisioner.Operation, timeout time.Duration) (provisioner.Operation, error) {
	p := cmdutil.NewProgress(fl.io, fl.now, fmt.Sprintf("%s %s", op.Kind, op.Cluster))
	defer p.Done()
	deadline := fl.now().Add(timeout)
	for !op.Done() {
		if fl.now().After(deadline) {
			return op, provisioner.Errorf(provisioner.EUNAVAILABLE, "gave up waiting after %s; the %s goes on (operation %s)", timeout, op.Kind, op.ID)
		}
		r, err := fl.c.Operation(ctx, op.ID, 20*time.Second)
		if err != nil {
			return op, err
		}
		op = r.Operation
		state := "pending"
		if st, err := fl.c.Status(ctx, op.Cluster); err == nil {
			state = st.State
		}
		p.Update(state)
	}
	p.Update(string(op.State))
	return op, nil
}
