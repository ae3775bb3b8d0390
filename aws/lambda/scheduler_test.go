package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"provisioner/aws/lambda"
	"provisioner/aws/scheduler"
)

type calls struct {
	destroys   []string
	ats        []time.Time
	reconciles int
	fail       error
}

func (c *calls) handler() *lambda.Handler {
	return &lambda.Handler{
		HTTP: echo(),
		Destroy: func(ctx context.Context, cluster string, at time.Time) error {
			c.destroys = append(c.destroys, cluster)
			c.ats = append(c.ats, at)
			return c.fail
		},
		Reconcile: func(ctx context.Context) error {
			c.reconciles++
			return c.fail
		},
		Logger: quiet,
	}
}

// The inputs aws/scheduler puts on its schedules call the right function
// with the right arguments.
func TestSchedulerEvents(t *testing.T) {
	c := &calls{}
	h := c.handler()
	at := time.Date(2030, 7, 1, 12, 30, 0, 0, time.UTC)
	out, err := h.Invoke(bg, []byte(scheduler.DestroyInput("abc-1", at)))
	if err != nil {
		t.Fatal(err)
	}
	var reply map[string]string
	if err := json.Unmarshal(out, &reply); err != nil || reply["status"] != "success" || reply["action"] != "destroy" {
		t.Errorf("reply = %s (%v)", out, err)
	}
	if len(c.destroys) != 1 || c.destroys[0] != "abc-1" || !c.ats[0].Equal(at) || c.reconciles != 0 {
		t.Fatalf("calls = %+v", c)
	}

	if _, err := h.Invoke(bg, []byte(scheduler.ReconcileInput())); err != nil {
		t.Fatal(err)
	}
	if c.reconciles != 1 || len(c.destroys) != 1 {
		t.Fatalf("calls = %+v", c)
	}

	// A time with an offset is the same instant.
	if _, err := h.Invoke(bg, []byte(`{"action":"destroy","cluster":"abc","at":"2030-07-01T14:30:00+02:00"}`)); err != nil {
		t.Fatal(err)
	}
	if c.destroys[1] != "abc" || !c.ats[1].Equal(at) {
		t.Fatalf("calls = %+v", c)
	}
}

// A failing destroy or sweep is an error, so that Lambda retries the
// asynchronous invocation and finally sends it to the dead-letter queue.
func TestSchedulerEventFailures(t *testing.T) {
	boom := errors.New("stack is busy")
	c := &calls{fail: boom}
	h := c.handler()
	if _, err := h.Invoke(bg, []byte(scheduler.DestroyInput("abc", time.Now()))); !errors.Is(err, boom) {
		t.Errorf("destroy: err = %v, want %v", err, boom)
	}
	if _, err := h.Invoke(bg, []byte(scheduler.ReconcileInput())); !errors.Is(err, boom) {
		t.Errorf("reconcile: err = %v, want %v", err, boom)
	}

	panicky := &lambda.Handler{Reconcile: func(context.Context) error { panic("nil map") }, Logger: quiet}
	if _, err := panicky.Invoke(bg, []byte(scheduler.ReconcileInput())); err == nil {
		t.Error("a panicking sweep succeeded")
	}
}

// The invocation's context reaches the functions (its deadline bounds the work).
func TestSchedulerEventContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(bg, key{}, "v")
	var got any
	h := &lambda.Handler{Reconcile: func(ctx context.Context) error { got = ctx.Value(key{}); return nil }, Logger: quiet}
	if _, err := h.Invoke(ctx, []byte(`{"action":"reconcile"}`)); err != nil {
		t.Fatal(err)
	}
	if got != "v" {
		t.Errorf("context value = %v", got)
	}
}

// The daily prices schedule refreshes the price table; without a refresh
// configured it is an error, not a silent success; a failed refresh is
// an error for Lambda's retries.
func TestPricesEvent(t *testing.T) {
	n := 0
	var fail error
	h := &lambda.Handler{RefreshPrices: func(context.Context) error { n++; return fail }, Logger: quiet}
	out, err := h.Invoke(bg, []byte(`{"action":"prices"}`))
	if err != nil || n != 1 || string(out) != `{"action":"prices","status":"success"}` {
		t.Fatalf("prices: %s %v, %d calls", out, err, n)
	}
	fail = errors.New("price list unavailable")
	if _, err := h.Invoke(bg, []byte(`{"action":"prices"}`)); !errors.Is(err, fail) {
		t.Errorf("failed refresh: %v", err)
	}
	if _, err := (&lambda.Handler{Logger: quiet}).Invoke(bg, []byte(`{"action":"prices"}`)); err == nil {
		t.Error("a prices event without a refresh succeeded")
	}
}
