package control

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
)

// TestPageInChromium drives the control page the way a developer does, in
// headless Chromium, against the reference publisher running in-process:
// buy a plan with the page's form, follow the landing link it shows, confirm
// on the publisher's landing page (which resolves and activates), come back
// to see the subscription Subscribed, press Suspend and see it Suspended,
// with the webhook delivered and Microsoft's side agreeing.
func TestPageInChromium(t *testing.T) {
	path := driver.ChromiumForTest(t)

	// Microsoft's side over HTTPS with the run's CA.
	side, err := microsoft.Start(microsoft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { side.Close() })

	// The reference publisher, pointed at the side, served over plain HTTP
	// on loopback: the browser visits its landing page, the sender posts to
	// its webhook.
	pub, err := app.New(app.Config{
		MarketplaceURL: side.MarketplaceURL, AuthorityHost: side.AuthorityURL,
		TenantID: side.App.TenantID, ClientID: side.App.ClientID, ClientSecret: side.App.Secret,
		PollInterval: 10 * time.Millisecond, PollTimeout: 10 * time.Second,
		HTTPClient: side.HTTPClient(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	pubSrv := httptest.NewServer(pub.Handler())
	t.Cleanup(pubSrv.Close)

	sender := &driver.Sender{URL: pubSrv.URL + "/webhook", Client: pubSrv.Client(), Issuer: side.Identity, App: side.App,
		Clock: clock.Real{}, Log: side.Log, Market: side.Marketplace}
	ctrl, err := New(Config{Side: side, Sender: sender, LandingURL: pubSrv.URL + "/landing"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctrl.Close)
	srv := httptest.NewServer(ctrl)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, driver.HeadlessOptions(path)...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	// Start the browser on tab itself: the stages below run on contexts
	// derived from it, and the browser must outlive each of them.
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}

	// do runs the steps of one stage within stageTimeout, so that a stage
	// that never sees what it waits for fails while the browser still runs
	// and can say what it was showing.
	const stageTimeout = 15 * time.Second
	do := func(stage string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, stageTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s\nviolations so far: %+v", stage, err, showing(tab), side.Log.All())
		}
	}
	text := func(stage string, sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: reading %s: %v\n%s", stage, sel, err, showing(tab))
		}
		return strings.TrimSpace(s)
	}

	// 1. Buy three seats of seats-monthly with the page's form. The page
	// refreshes itself every 3 s; each stage acts right after a load, well
	// inside that.
	buy := `form[action="/ui/purchase"]`
	do("open the control page",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(buy+` button`)),
		chromedp.SetValue(chromedp.CSS(buy+` select[name="plan"]`), "contoso-notes/seats-monthly"),
		chromedp.SendKeys(chromedp.CSS(buy+` input[name="quantity"]`), "3"),
		chromedp.Click(chromedp.CSS(buy+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice a`)),
	)
	if n := text("after buying", `p.notice`); strings.Contains(n, "error") || !strings.Contains(n, "bought seats-monthly") {
		t.Fatalf("the banner after buying says %q", n)
	}
	subs := ctrl.subscriptions()
	if len(subs) != 1 {
		t.Fatalf("the buy form made %d subscriptions, want 1", len(subs))
	}
	id := subs[0].ID
	row := `tr[data-subscription="` + id + `"]`
	if s := text("after buying", chromedp.CSS(row+` td[data-status]`)); s != string(marketplace.PendingFulfillmentStart) {
		t.Fatalf("status after buying: %q, want PendingFulfillmentStart", s)
	}
	link, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS(`p.notice a`), "href"))
	if err != nil || !strings.HasPrefix(link.Value, pubSrv.URL+"/landing?token=") {
		t.Fatalf("the banner's landing link: %q (%v), want %s/landing?token=…", link.Value, err, pubSrv.URL)
	}

	// 2. Follow the link to the publisher's landing page, which resolves
	// the token and asks the customer to confirm; confirming activates.
	confirm := `form[action="/landing/activate"] button`
	do("follow the landing link",
		chromedp.Click(chromedp.CSS(`p.notice a`)),
		chromedp.WaitVisible(chromedp.CSS(confirm)),
	)
	if plan, seats := text("landing page", `#plan`), text("landing page", `#quantity`); plan != "seats-monthly" || seats != "3" {
		t.Fatalf("the landing page shows plan %q and %q seats, want seats-monthly and 3", plan, seats)
	}
	do("confirm on the landing page",
		chromedp.Click(chromedp.CSS(confirm)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="You're all set"]`)),
	)

	// 3. Back on the control page the subscription is Subscribed; press
	// its Suspend button and it becomes Suspended.
	do("see it Subscribed and suspend it",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(row+` td[data-status="Subscribed"]`)),
		chromedp.Click(chromedp.CSS(row+` form[action="/ui/subscriptions/`+id+`/actions/suspend"] button`)),
		chromedp.WaitVisible(chromedp.CSS(row+` td[data-status="Suspended"]`)),
	)
	if s := text("after suspending", chromedp.CSS(row+` td[data-status]`)); s != string(marketplace.Suspended) {
		t.Fatalf("the status cell says %q, want Suspended", s)
	}
	if n := text("after suspending", `p.notice`); !strings.HasPrefix(n, "Suspend on "+id) || !strings.Contains(n, "webhook answered 200") {
		t.Fatalf("the banner after suspending says %q, want the Suspend operation and the webhook's 200", n)
	}
	if v := text("after suspending", `p.muted`); !strings.Contains(v, pubSrv.URL+"/webhook") {
		t.Errorf("the page does not name the webhook: %q", v)
	}

	// Microsoft's side agrees, and the publisher got and acknowledged the
	// notification.
	sub, ok := side.Marketplace.Subscription(id)
	if !ok || sub.SaasSubscriptionStatus != marketplace.Suspended || sub.PlanID != "seats-monthly" || sub.Quantity == nil || *sub.Quantity != 3 {
		t.Fatalf("Microsoft's view: %+v (found %v), want Suspended seats-monthly with 3 seats", sub, ok)
	}
	ds := sender.DeliveriesFor(id)
	if len(ds) != 1 || ds[0].Payload.Action != marketplace.ActionSuspend || !ds[0].Acked() {
		t.Fatalf("webhook deliveries: %+v, want one acknowledged Suspend", ds)
	}
	if vs := side.Log.All(); len(vs) != 0 {
		t.Errorf("the reference publisher committed violations: %+v", vs)
	}
}

// showing is what the tab shows, for failure messages.
func showing(tab context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tab), 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "the browser is at " + loc + " (page text unreadable: " + err.Error() + ")"
	}
	return "the browser is at " + loc + ", showing:\n" + body
}
