//go:build unix

package proc

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The ps(1) fallback used where there is no /proc sees what /proc sees.
func TestPSIdentity(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps")
	}
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	id1, run, err := PSIdentity(pid)
	if err != nil || !run || !strings.HasPrefix(id1, "ps:") {
		t.Fatalf("live: %q %v %v", id1, run, err)
	}
	if id2, _, _ := PSIdentity(pid); id2 != id1 {
		t.Fatalf("identity changed: %q, %q", id1, id2)
	}
	cmd.Process.Kill()
	waitFor(t, func() bool { _, run, _ := PSIdentity(pid); return !run }) // a zombie is not running
	cmd.Wait()
	if id, run, err := PSIdentity(pid); id != "" || run || err != nil {
		t.Fatalf("gone: %q %v %v", id, run, err)
	}
}

// Identity names a process the same way for its life, and no longer once
// it is gone; Marked finds it by the variable in its environment.
func TestIdentityAndMarked(t *testing.T) {
	t.Parallel()
	marker := "PROC_TEST_MARKER=" + strings.Repeat("x", 8) + time.Now().Format("150405.000000000")
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	id1, run, err := Identity(pid)
	if err != nil || !run || id1 == "" {
		t.Fatalf("live: %q %v %v", id1, run, err)
	}
	if id2, _, _ := Identity(pid); id2 != id1 {
		t.Fatalf("identity changed: %q, %q", id1, id2)
	}
	if _, err := os.Stat("/proc/self/environ"); err == nil {
		if refs := Marked(marker); len(refs) != 1 || refs[0] != (Ref{pid, id1}) {
			t.Fatalf("Marked = %v, want [{%d %s}]", refs, pid, id1)
		}
	}
	if err := Signal(pid, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, run, _ := Identity(pid); return !run })
	cmd.Wait()
	if id, run, err := Identity(pid); id != "" || run || err != nil {
		t.Fatalf("gone: %q %v %v", id, run, err)
	}
	if refs := Marked(marker); len(refs) != 0 {
		t.Fatalf("Marked after the end: %v", refs)
	}
}

// Signals never reach pid 0, 1 or this process: those would hit our own
// group, every process, or ourselves.
func TestSignalRefusesOwnAndInit(t *testing.T) {
	for _, pid := range []int{-1, 0, 1, os.Getpid()} {
		if Signal(pid, true) == nil || SignalGroup(pid, true) == nil {
			t.Errorf("pid %d was signalled", pid)
		}
	}
}

func TestExitText(t *testing.T) {
	if got := ExitText(nil); got != "exited with status 0" {
		t.Errorf("nil: %q", got)
	}
	err := exec.Command("sh", "-c", "exit 3").Run()
	if got := ExitText(err); got != "exited with status 3" {
		t.Errorf("exit 3: %q", got)
	}
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	if got := ExitText(cmd.Wait()); !strings.HasPrefix(got, "ended: signal: killed") {
		t.Errorf("killed: %q", got)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
