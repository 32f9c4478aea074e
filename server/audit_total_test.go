package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestAuditTotalCapped checks that GET /api/audit and the audit page say
// when the count of matches stopped at the store's cap: exactly at the cap
// the total is exact; one event more and the API answers the cap with
// totalCapped and the page shows "10,000+".
func TestAuditTotalCapped(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	base := time.Now().UTC().Add(-time.Hour)
	for i := range auth.AuditTotalCap + 1 {
		e := auth.AuditEvent{ID: fmt.Sprintf("cap-%05d", i), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Action: "captest.run", Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "system"}, Outcome: auth.OutcomeSuccess}
		if err := h.audit.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	c := h.client(t)
	if r := c.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatalf("sign-in = %d", r.status)
	}
	// The newest event is at base + cap ms; leaving it out matches exactly
	// the cap.
	atCap := base.Add(time.Duration(auth.AuditTotalCap-1) * time.Millisecond).Format(time.RFC3339Nano)
	tests := []struct {
		name, query string
		total       float64
		capped      bool
		page        string
	}{
		{"over the cap", "actionPrefix=captest.", auth.AuditTotalCap, true, "of 10,000&#43;, newest first."}, // html/template writes + as &#43;,
		{"at the cap", "actionPrefix=captest.&endDate=" + atCap, auth.AuditTotalCap, false, "of 10,000, newest first."},
		{"below the cap", "actionPrefix=captest.&endDate=" + base.Add(1234*time.Millisecond).Format(time.RFC3339Nano), 1235, false, "of 1,235, newest first."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("GET", "/api/audit?limit=3&"+tc.query, "", nil)
			if r.status != 200 {
				t.Fatalf("GET /api/audit = %d: %s", r.status, r.body)
			}
			body := r.json(t)
			if body["total"] != tc.total || body["totalCapped"] != tc.capped || body["hasMore"] != true {
				t.Fatalf("total %v, totalCapped %v, hasMore %v; want %v, %v, true", body["total"], body["totalCapped"], body["hasMore"], tc.total, tc.capped)
			}
			bodyHas(t, c.do("GET", "/audit?"+tc.query, "", nil), tc.page)
		})
	}
}

func TestTotalLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n      int
		capped bool
		want   string
	}{{0, false, "0"}, {7, false, "7"}, {999, false, "999"}, {1000, false, "1,000"}, {12345, false, "12,345"},
		{10000, true, "10,000+"}, {1234567, false, "1,234,567"}, {100000, true, "100,000+"}} {
		if got := totalLabel(tc.n, tc.capped); got != tc.want {
			t.Errorf("totalLabel(%d, %v) = %q, want %q", tc.n, tc.capped, got, tc.want)
		}
	}
}
