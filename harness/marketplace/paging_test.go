package marketplace

import (
	"strings"
	"testing"
)

// walk follows @nextLink from the first page and returns every id seen;
// between pages it runs between(pageIndex).
func walk(t *testing.T, m *Marketplace, between func(int)) []string {
	t.Helper()
	var ids []string
	path := "/saas/subscriptions/" + av
	for i := 0; ; i++ {
		rec := do(t, m, "GET", path, "")
		if rec.Code != 200 {
			t.Fatalf("page %d: %d %s", i, rec.Code, rec.Body)
		}
		page := decodeBody[SubscriptionPage](t, rec)
		for _, s := range page.Subscriptions {
			ids = append(ids, s.ID)
		}
		if page.NextLink == "" {
			return ids
		}
		if i > 100 {
			t.Fatal("paging does not end")
		}
		between(i)
		path = strings.TrimPrefix(page.NextLink, "http://example.com/api")
	}
}

func TestPagingReturnsEverySubscriptionOnceInCreationOrder(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7} {
		m, _ := newFake(t, WithPageSize(2))
		var want []string
		for i := 0; i < n; i++ {
			want = append(want, buy(t, m, "flat-monthly").SubscriptionID)
		}
		pages := 0
		got := walk(t, m, func(int) { pages++ })
		if !sameStrings(got, want) {
			t.Fatalf("n=%d: got %v want %v", n, got, want)
		}
		if wantPages := max(0, (n+1)/2-1); pages != wantPages {
			t.Fatalf("n=%d: followed %d nextLinks, want %d", n, pages, wantPages)
		}
	}
}

func TestPagingSurvivesPurchasesBetweenPages(t *testing.T) {
	m, _ := newFake(t, WithPageSize(2))
	var want []string
	for i := 0; i < 3; i++ {
		want = append(want, buy(t, m, "flat-monthly").SubscriptionID)
	}
	got := walk(t, m, func(int) {
		want = append(want, buy(t, m, "seats-monthly").SubscriptionID)
	})
	// A cursor by creation sequence lists what was bought meanwhile, at the end.
	if !sameStrings(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// Every subscription appears exactly once: none skipped, none repeated.
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want[:3] {
		if seen[id] != 1 {
			t.Fatalf("original subscription %s seen %d times in %v", id, seen[id], got)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", id, n)
		}
	}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("order broken: %v", got)
	}
}

func TestGarbageContinuationTokenIs400(t *testing.T) {
	m, _ := newFake(t, WithPageSize(1))
	buy(t, m, "flat-monthly")
	buy(t, m, "flat-monthly")
	for _, tok := range []string{"garbage", "%%%", encodeContinuation(1) + "!", "c2MxLg", "c2MxLnp6enp6enp6enp6enp6eno"} {
		rec := do(t, m, "GET", "/saas/subscriptions"+av+"&continuationToken="+tok, "")
		if rec.Code != 400 {
			t.Errorf("token %q = %d, want 400", tok, rec.Code)
		}
	}
	if seq, ok := decodeContinuation(encodeContinuation(12345)); !ok || seq != 12345 {
		t.Fatalf("round trip = %d %v", seq, ok)
	}
}
