package http

import (
	"net/http"
	"time"

	"provisioner/api"
	"provisioner/app"
)

// budgetNote is the wire form of what a budget did to a TTL; nil for
// nothing.
func budgetNote(s *app.BudgetShrink) *api.BudgetNote {
	if s == nil {
		return nil
	}
	return &api.BudgetNote{Scope: s.Scope, AskedTTL: int(s.Asked / time.Minute), TTL: int(s.TTL / time.Minute), Left: s.Left, Message: s.Message}
}

// pendingNote puts a budget note into a long answer's pending form too
// (the done form carries it in its status): pendingNote(longAnswer(...))(note).
func pendingNote(out any, err error) func(*api.BudgetNote) (any, error) {
	return func(note *api.BudgetNote) (any, error) {
		if p, ok := out.(reply); ok {
			if op, ok := p.body.(api.PendingOp); ok {
				op.Budget = note
				out = reply{p.status, op}
			}
		}
		return out, err
	}
}

// budgetReport is GET /report/budgets: the budgets the caller may see
// (app.Budgets), this month.
func (s *Server) budgetReport() http.HandlerFunc {
	return endpoint(s, true, false, func(r *http.Request, c app.Caller, _ none) (any, error) {
		rep, err := s.app.Budgets(r.Context(), c)
		if err != nil {
			return nil, err
		}
		out := api.BudgetReport{Status: "success", Month: rep.Month.Format("2006-01"), Currency: "USD", Source: rep.Source,
			Budgets: make([]api.Budget, 0, len(rep.Budgets))}
		for _, b := range rep.Budgets {
			ab := api.Budget{Scope: b.Budget.Scope, Policy: string(b.Budget.Policy), AdminsExempt: b.Budget.AdminsExempt,
				Monthly: b.Budget.Monthly, CarryOverCap: b.Budget.CarryOverCap, Grace: int(b.Budget.Grace / time.Minute),
				WarnAt: append([]int{}, b.Budget.WarnAt...), Carried: b.Carried, Available: b.Available, Spent: b.Spent,
				Reserved: b.Reserved, Left: b.Left, UsedPercent: b.UsedPercent(), Live: b.Live, State: b.State()}
			if !b.Exhausted.IsZero() {
				t := b.Exhausted.UTC()
				ab.ExhaustedAt = &t
			}
			out.Budgets = append(out.Budgets, ab)
		}
		return out, nil
	})
}
