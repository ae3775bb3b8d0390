package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"provisioner/local/internal/proc"
)

// child is a process this Driver started: only its parent learns how a
// process ended, and only it must reap it.
type child struct {
	ident string
	done  chan struct{}
	err   error // of Wait, once done is closed
}

// start runs argv in a session of its own with stdout and stderr going to
// p.Log (a fresh log per deployment), and records its pid and start
// identity in p.
func (d *Driver) start(p *procState, argv, env []string) error {
	logf, err := os.OpenFile(p.Log, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = proc.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	// Not yet reaped, so the pid is certainly this process.
	ident, _, err := proc.Identity(cmd.Process.Pid)
	if err != nil || ident == "" {
		proc.SignalGroup(cmd.Process.Pid, true)
		cmd.Wait()
		return fmt.Errorf("cannot identify process %d: %v", cmd.Process.Pid, err)
	}
	c := &child{ident: ident, done: make(chan struct{})}
	d.mu.Lock()
	d.children[cmd.Process.Pid] = c
	d.mu.Unlock()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	p.PID, p.Ident = cmd.Process.Pid, ident
	return nil
}

// env is the service's environment without PROVISIONER_* and markers, then
// Config.Env, then extra.
func (d *Driver) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PROVISIONER_") || strings.HasPrefix(kv, proc.ClusterMarker+"=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, d.cfg.Env...)
	return append(env, extra...)
}

// alive says whether p is still the process that was started, and running.
func alive(p *procState) bool {
	if p.PID <= 1 {
		return false
	}
	ident, running, err := proc.Identity(p.PID)
	return err == nil && running && ident == p.Ident
}

// stop ends every process of s: SIGTERM to the process groups whose leader
// is verifiably ours and to every process carrying the instance marker,
// then SIGKILL to what is left after StopTimeout. It never signals a pid it
// cannot verify, and returns once every process it signalled has ended.
func (d *Driver) stop(ctx context.Context, s *clusterState) error {
	for _, kill := range []bool{false, true} {
		timeout := d.cfg.StopTimeout
		if kill {
			timeout = 5 * time.Second
			d.log.Warn("cluster processes ignored SIGTERM; killing", "cluster", s.Name, "after", d.cfg.StopTimeout)
		}
		sw := sweeper{s: s, kill: kill, sent: map[int]string{}}
		deadline := time.Now().Add(timeout)
		for sw.sweep() > 0 {
			if time.Now().After(deadline) {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			time.Sleep(25 * time.Millisecond)
		}
		if sw.left == 0 {
			return nil
		}
	}
	return fmt.Errorf("processes of cluster %s survived SIGKILL", s.Name)
}

// sweeper signals each process of a cluster once and follows it by
// identity until it has ended: an exiting process already lost its
// environment (so the marker) while it still runs.
type sweeper struct {
	s    *clusterState
	kill bool
	sent map[int]string // pid -> identity of each process signalled
	left int
}

// sweep signals the processes not yet signalled and counts those still
// running.
func (w *sweeper) sweep() int {
	for _, p := range w.s.procs() {
		if _, done := w.sent[p.PID]; !done && alive(p) {
			proc.SignalGroup(p.PID, w.kill)
			w.sent[p.PID] = p.Ident
		}
	}
	// proc.ClusterMarker carries the instance id into every process of the
	// cluster and, by inheritance, their children, so processes that left
	// the process group are still found and stopped.
	for _, m := range proc.Marked(proc.ClusterMarker + "=" + w.s.Instance) {
		if _, done := w.sent[m.PID]; !done {
			proc.Signal(m.PID, w.kill)
			w.sent[m.PID] = m.Ident
		}
	}
	w.left = 0
	for pid, ident := range w.sent {
		if cur, running, err := proc.Identity(pid); err == nil && running && cur == ident {
			w.left++
		}
	}
	return w.left
}

// forget drops the exit records of s's processes.
func (d *Driver) forget(s *clusterState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, s.Instance)
	for _, p := range s.procs() {
		if c := d.children[p.PID]; c != nil && c.ident == p.Ident {
			delete(d.children, p.PID)
		}
	}
}

// deathReason says how p ended, pointing at its log and quoting its end.
func (d *Driver) deathReason(p *procState) string {
	how := "is no longer running"
	d.mu.Lock()
	c := d.children[p.PID]
	d.mu.Unlock()
	if c != nil && c.ident == p.Ident {
		select { // a zombie may not be reaped yet
		case <-c.done:
			how = proc.ExitText(c.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	reason := fmt.Sprintf("%s (pid %d) %s; see %s", p.Role, p.PID, how, p.Log)
	if tail := tailLog(p.Log, maxTailLines, maxTailBytes); tail != "" {
		reason += "; last lines:\n" + tail
	}
	return reason
}

// freePorts reserves n distinct loopback ports and releases them for the
// children to bind. Another process may take one in between; the child then
// fails to listen, exits, and the cluster is reported failed.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
