package ilb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of Reload.
const (
	reloadStart = 10 * time.Second // for the new worker to appear
	reloadDrain = 5 * time.Second  // for the old ones to finish their requests
	reloadRereg = 10 * time.Second // for the nodes to be registered again
)

// Reload makes the HAProxy master pid (started with Args) re-read its
// config and key: SIGUSR2, then it waits for a new worker and, for a
// while, for the old ones to end.
//
// The orchestrator's registry lives in the worker, so a reload empties it.
// The nodes renew their registrations within half a lifetime anyway; so
// that the cluster does not answer 503 until then, Reload registers nodes
// (their "http://IP:PORT" addresses) again at once with service, exactly
// as they would themselves, at the node-facing base URL discovery.
func Reload(ctx context.Context, pid int, discovery, service string, nodes []string) error {
	if pid <= 1 {
		return fmt.Errorf("bad HAProxy master pid %d", pid)
	}
	old := workers(pid)
	if err := sigusr2(pid); err != nil {
		return fmt.Errorf("reload HAProxy (pid %d): %w", pid, err)
	}
	start := time.Now()
	fresh := false
	for {
		cur := workers(pid)
		fresh = fresh || slices.ContainsFunc(cur, func(w int) bool { return !slices.Contains(old, w) })
		stale := slices.ContainsFunc(cur, func(w int) bool { return slices.Contains(old, w) })
		switch {
		case !processExists(pid):
			return fmt.Errorf("HAProxy (pid %d) ended while reloading", pid)
		case fresh && (!stale || time.Since(start) > reloadDrain):
		case !fresh && time.Since(start) > reloadStart:
			return fmt.Errorf("HAProxy (pid %d) started no new worker within %s: the reload failed (see its log)", pid, reloadStart)
		default:
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		break
	}
	return Reregister(ctx, discovery, service, nodes)
}

// Reregister registers nodes with service at discovery until the ILB counts
// them all.
func Reregister(ctx context.Context, discovery, service string, nodes []string) error {
	if len(nodes) == 0 {
		return nil
	}
	deadline := time.Now().Add(reloadRereg)
	for ok := 0; ok < 2; {
		n, err := Nodes(ctx, discovery, service)
		if err == nil && n >= len(nodes) {
			ok++
		} else {
			ok = 0
			for _, a := range nodes {
				err = errors.Join(err, Register(ctx, discovery, Registration{Service: service,
					Lifetime: int(NodeLifetime / time.Second), Address: a}))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the reloaded ILB does not count the cluster's %d nodes: %v", len(nodes), err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// workers lists the children of the HAProxy master pid.
func workers(pid int) []int {
	var out []int
	if tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children"); err == nil && len(tasks) > 0 {
		for _, t := range tasks {
			b, _ := os.ReadFile(t)
			for f := range strings.FieldsSeq(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
		return out
	}
	b, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
	for f := range strings.FieldsSeq(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}
