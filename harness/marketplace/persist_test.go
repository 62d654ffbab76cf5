package marketplace

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/statefile"
)

// dump renders everything the journal must carry, in a canonical order, so
// two fakes can be compared as text.
func dump(m *Marketplace) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, r := range m.st.order {
		j, _ := json.Marshal(r.sub)
		fmt.Fprintf(&b, "sub %d resolved=%v %s\n", r.seq, r.resolved, j)
		for _, o := range r.ops {
			j, _ := json.Marshal(o.op)
			_, inflight := m.st.inflight[o]
			fmt.Fprintf(&b, "  op %d due=%s outcome=%s inflight=%v %s\n", o.seq, o.due.Format(time.RFC3339Nano), o.outcome, inflight, j)
		}
	}
	var lines []string
	for t, rec := range m.st.tokens.issued {
		lines = append(lines, fmt.Sprintf("token %s %s %s", t, rec.subID, rec.issued.Format(time.RFC3339Nano)))
	}
	for t, ref := range m.st.tokens.mangled {
		lines = append(lines, fmt.Sprintf("mangled %q %s %d", t, ref.token, ref.how))
	}
	for id, s := range m.st.outcomes {
		lines = append(lines, "outcome "+id+" "+string(s))
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	fmt.Fprintf(&b, "\nops=%d inflight=%d", len(m.st.ops), len(m.st.inflight))
	return b.String()
}

// restored opens the journal at path as a restarted process would and
// restores a fresh fake from it. The live fake still holds the journal (and
// its lock), so the restart reads a copy: what a kill at this point leaves.
func restored(t *testing.T, path string, clk clock.Clock) *Marketplace {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "state-copy")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sf, err := statefile.Open(cp, statefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	recs := sf.Loaded()
	m, err := New(WithClock(clk), WithOperationLatency(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(recs); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestJournalRestoresExactlyTheSameState drives a fake through a long random
// mix of every way its state changes (purchases of every kind, the landing
// flow, customer actions, publisher PATCH and DELETE, operation answers,
// outcomes, tokens, the clock passing ack windows and latencies, Reset) and
// checks at checkpoints that a fake restored from the journal alone equals
// the live one.
func TestJournalRestoresExactlyTheSameState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf, err := statefile.Open(path, statefile.Options{MinCompact: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	clk := clock.NewFake(t0)
	m, err := New(WithClock(clk), WithJournal(sf), WithOperationLatency(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	plans := []string{"flat-monthly", "flat-yearly", "seats-monthly", "seats-yearly", "trial-monthly"}
	kinds := []PurchaseKind{Direct, CSP, FreeTrial, Test}
	var purchases []Purchase
	pick := func() (Purchase, bool) {
		if len(purchases) == 0 {
			return Purchase{}, false
		}
		return purchases[rng.Intn(len(purchases))], true
	}
	api := "?api-version=2018-08-31"
	for step := 1; step <= 1200; step++ {
		p, have := pick()
		switch k := rng.Intn(18); {
		case (k < 3 && len(purchases) < 8) || !have:
			pl := plans[rng.Intn(len(plans))]
			kind := kinds[rng.Intn(len(kinds))]
			if pl == "trial-monthly" {
				kind = FreeTrial
			} else if kind == FreeTrial {
				kind = Direct
			}
			if np, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: pl, Kind: kind}); err == nil {
				purchases = append(purchases, np)
			} else {
				t.Fatalf("Purchase %s %s: %v", pl, kind, err)
			}
		case k == 3:
			resolveToken(t, m, p.Token)
		case k == 4:
			do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+api, activateBody(p))
		case k == 5:
			m.ChangePlan(p.SubscriptionID, plans[rng.Intn(4)])
		case k == 6:
			m.ChangeQuantity(p.SubscriptionID, int64(1+rng.Intn(20)))
		case k == 7:
			m.Suspend(p.SubscriptionID)
		case k == 8:
			m.Reinstate(p.SubscriptionID)
		case k == 9:
			m.Renew(p.SubscriptionID)
		case k == 10:
			if rng.Intn(3) == 0 {
				m.Unsubscribe(p.SubscriptionID)
			}
		case k == 11:
			body := fmt.Sprintf(`{"quantity":%d}`, 1+rng.Intn(20))
			if rng.Intn(2) == 0 {
				body = fmt.Sprintf(`{"planId":%q}`, plans[rng.Intn(4)])
			}
			do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+api, body)
		case k == 12:
			if rng.Intn(3) == 0 {
				do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+api, "")
			}
		case k == 13:
			for _, o := range m.Operations(p.SubscriptionID) {
				if o.Status == OpInProgress {
					st := []string{"Success", "Failure"}[rng.Intn(2)]
					do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+"/operations/"+o.ID+api, `{"status":"`+st+`"}`)
					break
				}
			}
		case k == 14:
			m.SetOutcome(p.SubscriptionID, []OperationStatus{OpFailed, OpConflict, OpSucceeded}[rng.Intn(3)])
		case k == 15:
			clk.Advance(time.Duration(rng.Intn(12)) * time.Second)
			m.Settle()
		case k == 16:
			if tok, err := m.IssueToken(p.SubscriptionID); err == nil && rng.Intn(2) == 0 {
				m.ExpireToken(tok)
			}
		case k == 17:
			for _, o := range m.Operations(p.SubscriptionID) {
				if o.Status == OpInProgress {
					m.CompleteOperation(p.SubscriptionID, o.ID, []OperationStatus{OpSucceeded, OpFailed}[rng.Intn(2)])
					break
				}
			}
		}
		// GET answers from a cached encoding: after every step it must
		// still be exactly the subscription as it is now.
		if p, ok := pick(); ok {
			rec := do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+api, "")
			s, _ := m.Subscription(p.SubscriptionID)
			if want, _ := json.Marshal(s); rec.Code != 200 || rec.Body.String() != string(want) {
				t.Fatalf("step %d: GET answered a stale subscription:\n got %s\nwant %s", step, rec.Body, want)
			}
		}
		if step%150 == 0 {
			want := dump(m)
			if got := dump(restored(t, path, clk)); got != want {
				t.Fatalf("step %d: the restored fake differs from the live one:\n%s", step, firstDiff(want, got))
			}
		}
		if step == 600 {
			m.Reset() // a Reset is journalled too: the restored fake starts empty
			purchases = nil
			if got := dump(restored(t, path, clk)); got != dump(m) {
				t.Fatalf("after Reset the restored fake is not empty:\n%s", got)
			}
		}
	}
}

// TestRestoredFakeGoesOnWhereItStopped checks behaviour, not just fields:
// after a restore, the token still resolves, the continuation of the list is
// stable, a waiting change is auto-accepted when its window passes, and a new
// purchase gets a sequence number after the old ones.
func TestRestoredFakeGoesOnWhereItStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf, err := statefile.Open(path, statefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	m, err := New(WithClock(clk), WithJournal(sf), WithOperationLatency(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	a := subscribed(t, m, "seats-monthly")
	b := buy(t, m, "flat-monthly")
	if _, err := m.ChangeQuantity(a.SubscriptionID, 9); err != nil {
		t.Fatal(err)
	}
	// A cancellation fails the change waiting on its subscription.
	d := subscribed(t, m, "seats-monthly")
	if _, err := m.ChangePlan(d.SubscriptionID, "seats-yearly"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Unsubscribe(d.SubscriptionID); err != nil {
		t.Fatal(err)
	}
	sf.Close()

	r := restored(t, path, clk)
	if got, want := dump(r), dump(m); got != want {
		t.Fatalf("restored fake differs:\n%s", firstDiff(want, got))
	}
	if rec := resolveToken(t, r, b.Token); rec.Code != 200 {
		t.Fatalf("resolve after restore: %d %s", rec.Code, rec.Body)
	}
	clk.Advance(11 * time.Second) // past the ack window
	if s := mustStatus(t, r, a.SubscriptionID, Subscribed); s.Quantity == nil || *s.Quantity != 9 {
		t.Fatalf("the change waiting at restart was not auto-accepted: %+v", s.Quantity)
	}
	c := buy(t, r, "flat-monthly")
	subs := r.Subscriptions()
	if len(subs) != 4 || subs[3].ID != c.SubscriptionID {
		t.Fatalf("after restore, a new purchase is not listed last: %v", subs)
	}
}

func TestRestoreRefusesBadRecords(t *testing.T) {
	sub := statefile.Record{Kind: kindSub, ID: "x", Value: json.RawMessage(`{"subscription":{"id":"11111111-1111-1111-1111-111111111111"},"seq":1}`)}
	cases := map[string][]statefile.Record{
		"not JSON":              {{Kind: kindSub, ID: "x", Value: json.RawMessage(`[1]`)}},
		"op without its sub":    {{Kind: kindOp, ID: "o", Value: json.RawMessage(`{"operation":{"id":"o","subscriptionId":"nope"},"seq":2}`)}},
		"token without its sub": {sub, {Kind: kindToken, ID: "t", Value: json.RawMessage(`{"subscriptionId":"nope","issued":"2026-01-01T00:00:00Z"}`)}},
		"unknown market kind":   {{Kind: "market.future", ID: "x", Value: json.RawMessage(`1`)}},
		"bad outcome":           {{Kind: kindOutcome, ID: "x", Value: json.RawMessage(`"Succeeded"`)}},
	}
	for name, recs := range cases {
		m, _ := newFake(t)
		if err := m.Restore(recs); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		} else if !strings.Contains(err.Error(), "restoring") {
			t.Errorf("%s: error %q does not say what it was restoring", name, err)
		}
	}
	m, _ := newFake(t)
	if err := m.Restore([]statefile.Record{sub, {Kind: "identity.app", ID: "x", Value: json.RawMessage(`{}`)}}); err != nil {
		t.Errorf("records of other namespaces are not ignored: %v", err)
	}
	if err := m.Restore([]statefile.Record{sub}); err == nil {
		t.Error("Restore into a fake that holds state was accepted")
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d\nlive:     %s\nrestored: %s", i+1, x, y)
		}
	}
	return ""
}
