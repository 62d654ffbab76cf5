package marketplace

import (
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadOptions(t *testing.T) {
	cases := []struct {
		opt  Option
		name string
	}{
		{WithClock(nil), "WithClock"},
		{WithCatalog(nil), "WithCatalog"},
		{WithPageSize(0), "WithPageSize"},
		{WithPageSize(-3), "WithPageSize"},
		{WithTokenLifetime(0), "WithTokenLifetime"},
		{WithAckWindow(-time.Second), "WithAckWindow"},
		{WithOperationLatency(-time.Second), "WithOperationLatency"},
		{WithViolations(nil), "WithViolations"},
		{WithBaseURL("/relative"), "WithBaseURL"},
		{WithBaseURL("ftp://x/api"), "WithBaseURL"},
		{WithBaseURL("https://x/api?q=1"), "WithBaseURL"},
		{WithBasePath("api"), "WithBasePath"},
		{WithBasePath("/a b"), "WithBasePath"},
		{WithPublisherID(" "), "WithPublisherID"},
		{WithMaxBodyBytes(0), "WithMaxBodyBytes"},
		{nil, "nil Option"},
	}
	for _, tc := range cases {
		m, err := New(tc.opt)
		if err == nil || m != nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("New(%s) = %v, %v; want an error naming %s", tc.name, m, err, tc.name)
		}
	}
	// Several bad options are reported together.
	_, err := New(WithPageSize(0), WithMaxBodyBytes(-1))
	if err == nil || !strings.Contains(err.Error(), "WithPageSize") || !strings.Contains(err.Error(), "WithMaxBodyBytes") {
		t.Fatalf("joined error = %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if m.Violations() == nil || m.Clock() == nil || m.Catalog() == nil {
		t.Fatal("missing defaults")
	}
	if _, ok := m.Catalog().Offer(offer); !ok {
		t.Fatal("default catalog is not the fixtures")
	}
	c := m.cfg
	if c.pageSize != 100 || c.tokenLifetime != 24*time.Hour || c.ackWindow != 10*time.Second || c.operationLatency != 0 ||
		c.basePath != "/api" || c.publisherID != "contoso" || c.maxBodyBytes != 1<<20 || !c.partnerNotifications || !c.outstandingOnlyReinstate {
		t.Fatalf("defaults = %+v", c)
	}
	root, err := New(WithBasePath(""))
	if err != nil {
		t.Fatal(err)
	}
	p := buy(t, root, "flat-monthly")
	rec := do(t, stripAPI{root}, "GET", "/saas/subscriptions/"+p.SubscriptionID+av, "")
	if rec.Code != 200 {
		t.Fatalf("root base path = %d", rec.Code)
	}
}

func TestWithMaxEventsKeepsTheNewest(t *testing.T) {
	if _, err := New(WithMaxEvents(0)); err == nil || !strings.Contains(err.Error(), "WithMaxEvents") {
		t.Errorf("WithMaxEvents(0) = %v", err)
	}
	m, _ := newFake(t, WithMaxEvents(2))
	p := subscribed(t, m, "seats-monthly")
	for _, q := range []int64{4, 5, 6} {
		op, err := m.ChangeQuantity(p.SubscriptionID, q)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.CompleteOperation(p.SubscriptionID, op.ID, OpSucceeded); err != nil {
			t.Fatal(err)
		}
	}
	evs := m.Events()
	if len(evs) != 2 || *evs[1].Payload.Quantity != 6 || *evs[0].Payload.Quantity != 5 {
		t.Fatalf("events = %+v", evs)
	}
}
