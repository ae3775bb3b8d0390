package app

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// TestConcurrentRequests: 100 concurrent DEPLOY, DESTROY and
// SCHEDULE_DESTROY requests on one cluster leave it in one clear state that
// agrees with the driver and the scheduler.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			switch i % 3 {
			case 0:
				_, _ = f.app.Deploy(bg, admin, DeployRequest{Cluster: "hot", NodeCapacity: 1 + i%3, TTL: time.Hour})
			case 1:
				_, _ = f.app.Destroy(bg, admin, "hot")
			case 2:
				_, _ = f.app.ScheduleDestroy(bg, admin, "hot", f.clock.Now().Add(time.Duration(10+i)*time.Minute))
			}
			_ = f.app.advance(bg, "hot")
		}(i)
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		_ = f.app.advance(bg, "hot")
	}
	cl := f.cluster(t, "hot")
	_, scheduled := f.sched.get("hot")
	switch cl.State {
	case provisioner.StateAbsent:
		if f.driver.has("hot") || scheduled {
			t.Fatalf("absent cluster but driver=%v schedule=%v", f.driver.has("hot"), scheduled)
		}
	case provisioner.StateRunning:
		if !f.driver.has("hot") || !scheduled {
			t.Fatalf("running cluster but driver=%v schedule=%v", f.driver.has("hot"), scheduled)
		}
	default:
		t.Fatalf("cluster left in %s", cl.State)
	}
	// Every operation ended.
	if cl.Operation != "" {
		if op, _ := f.app.Operation(bg, admin, cl.Operation, 0); !op.Done() {
			t.Fatalf("operation %s still pending", op.ID)
		}
	}
	fmt.Println("final state:", cl.State)
}
