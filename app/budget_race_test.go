package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"provisioner"
	"provisioner/aws/awstest"
	"provisioner/aws/dynamodb"
	"provisioner/jwt"
	"provisioner/local/keyring"
	"provisioner/prices"
	"provisioner/sqlite"
	"provisioner/testkit"
)

// ledgerGate holds the first write of a budget ledger of each of n
// requests until all n are there: they all read the same revision and
// all saw room, as two Lambda instances racing would.
type ledgerGate struct {
	mu      sync.Mutex
	n       int
	arrived int
	all     chan struct{}
}

func newLedgerGate(n int) *ledgerGate { return &ledgerGate{n: n, all: make(chan struct{})} }

func (g *ledgerGate) arrive() {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.all)
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-time.After(10 * time.Second):
	}
}

// gatedStore is a Store whose first Apply with a budget ledger waits at
// the gate.
type gatedStore struct {
	provisioner.Store
	gate  *ledgerGate
	first atomic.Bool
	reads atomic.Int64
}

func (s *gatedStore) GetBudgetLedger(ctx context.Context, scope string) (provisioner.BudgetLedger, error) {
	s.reads.Add(1)
	return s.Store.GetBudgetLedger(ctx, scope)
}

func (s *gatedStore) Apply(ctx context.Context, b provisioner.Batch) (int64, error) {
	if len(b.Budgets) > 0 && s.first.CompareAndSwap(false, true) {
		s.gate.arrive()
	}
	return s.Store.Apply(ctx, b)
}

// noSpend is a bill with nothing on it.
type noSpend struct{}

func (noSpend) Spend(context.Context, time.Time, time.Time) ([]provisioner.SpendRow, error) {
	return nil, nil
}

// TestBudgetConcurrentDeploys: two DEPLOYs at once, by two App instances
// that share nothing in memory (two Lambda instances, two processes on
// one SQLite file), with room in the budget for one: exactly one is
// deployed, the other refused ELIMIT, on both stores; the same for two
// node group DEPLOYs (the budgets' ledgers ride with the group's record).
func TestBudgetConcurrentDeploys(t *testing.T) {
	for _, group := range []bool{false, true} {
		name := "Clusters"
		if group {
			name = "NodeGroups"
		}
		t.Run(name, func(t *testing.T) { budgetRaceStores(t, group) })
	}
}

func budgetRaceStores(t *testing.T, group bool) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.db")
		budgetRace(t, func(t *testing.T) (provisioner.Store, CostConfig) {
			db, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, CostConfig{Usage: db}
		}, group)
	})
	t.Run("DynamoDB", func(t *testing.T) {
		cfg := awstest.Config(t)
		table := awstest.Name("provisioner-budget")
		setup := ddb.NewFromConfig(cfg)
		if err := dynamodb.CreateTable(t.Context(), setup, table); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = setup.DeleteTable(context.Background(), &ddb.DeleteTableInput{TableName: aws.String(table)})
		})
		budgetRace(t, func(t *testing.T) (provisioner.Store, CostConfig) {
			// A client (and connections) of its own, as each instance has.
			return dynamodb.New(ddb.NewFromConfig(cfg), table), CostConfig{Spend: noSpend{}}
		}, group)
	})
}

// budgetRace races two DEPLOYs of otto's, of clusters race-0 and race-1,
// or (group) of node groups on the running clusters race-0 and race-1.
func budgetRace(t *testing.T, open func(t *testing.T) (provisioner.Store, CostConfig), group bool) {
	keys, err := keyring.Open(keyring.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	driver, sched := newTestDriver(), &testScheduler{at: map[string]time.Time{}}
	gate := newLedgerGate(2)
	// 90 minutes of a cluster of 1 node is 0.745364, of a group of 2
	// nodes 0.827441: room for one in 1.20.
	b := budget("user:otto", 1.2, provisioner.BudgetRefuse)
	var apps [2]*App
	var stores [2]*gatedStore
	for i := range apps {
		store, costs := open(t)
		stores[i] = &gatedStore{Store: store, gate: gate}
		costs.Prices, costs.Layout = staticPrices(prices.Shipped()), provisioner.DefaultLayout("us-west-2")
		apps[i] = New(Config{Store: stores[i], Tokens: jwt.New(jwt.Config{Issuer: "http://test", Signer: keys}),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clk.Now, Driver: driver, Scheduler: sched,
			Poll: time.Millisecond, Costs: costs, Budgets: []provisioner.Budget{b}})
	}
	if group {
		// The clusters the groups attach to, an administrator's (not in
		// otto's budget), running.
		for i := range apps {
			name := fmt.Sprintf("race-%d", i)
			if _, err := apps[0].Deploy(bg, admin, DeployRequest{Cluster: name, IsPublic: true, NodeCapacity: 1, TTL: 3 * time.Hour}); err != nil {
				t.Fatal(err)
			}
			for range 100 {
				if cl, err := stores[0].GetCluster(bg, name); err == nil && cl.State == provisioner.StateRunning {
					break
				}
				if err := apps[0].advance(bg, name); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var errs [2]error
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Go(func() {
			name := fmt.Sprintf("race-%d", i)
			if group {
				_, errs[i] = a.DeployGroup(bg, orgMem, GroupRequest{Cluster: name, User: "otto", NodeCapacity: 2, TTL: 90 * time.Minute})
				return
			}
			_, errs[i] = a.Deploy(bg, orgMem, DeployRequest{Cluster: name, NodeCapacity: 1, TTL: 90 * time.Minute})
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatal("both deploys went through a budget with room for one")
		case err == nil:
			won = i
		case provisioner.ErrorCode(err) != provisioner.ELIMIT:
			t.Fatalf("deploy %d: %v, want success or %s", i, err, provisioner.ELIMIT)
		}
	}
	if won < 0 {
		t.Fatalf("neither deploy went through: %v", errs)
	}
	// Both read the ledger before either wrote it, so the loser lost the
	// ledger's compare-and-swap, read it again, and saw the winner.
	lost := 1 - won
	if stores[lost].reads.Load() < 2 {
		t.Fatalf("the loser read the ledger %d times: the race was not run", stores[lost].reads.Load())
	}
	if group {
		all, err := stores[0].ListNodeGroups(bg, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].Cluster != fmt.Sprintf("race-%d", won) || driver.hasGroup(fmt.Sprintf("race-%d", lost), "otto") {
			t.Fatalf("node groups %+v; only otto's on race-%d may be there", all, won)
		}
	} else {
		all, err := stores[0].ListClusters(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].Name != fmt.Sprintf("race-%d", won) || driver.has(fmt.Sprintf("race-%d", lost)) {
			t.Fatalf("clusters %+v; only race-%d may be there", all, won)
		}
	}
	l, err := stores[0].GetBudgetLedger(bg, "user:otto")
	if err != nil || l.Revision != 1 {
		t.Fatalf("ledger %+v, %v: want revision 1, the winner's", l, err)
	}
}
