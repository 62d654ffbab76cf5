package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
)

// somePayload is a well-formed notification about an operation nobody
// knows: the webhook must still answer it, and the worker's GET fails
// harmlessly.
func somePayload() marketplace.WebhookPayload {
	return marketplace.WebhookPayload{
		ID: uuid.NewString(), ActivityID: uuid.NewString(), PublisherID: "contoso", OfferID: "contoso-notes",
		PlanID: "flat-monthly", SubscriptionID: uuid.NewString(), Action: marketplace.ActionSuspend,
		Status: marketplace.OpSucceeded, OperationRequestSource: marketplace.SourceAzure,
	}
}

// TestWebhookRefusesForgeries: the correct publisher answers every forged
// token 401 and the genuine one 200, for v1 and v2 tokens; each
// webhook-skip-* mistake lets exactly its forgeries through.
func TestWebhookRefusesForgeries(t *testing.T) {
	e := newEnv(t)
	signature := []string{identity.ForgeAlgNone, identity.ForgeHS256, identity.ForgeUnknownKey, identity.ForgeWrongKid}
	allNames := []string{identity.ForgeNoToken, identity.ForgeMalformed, identity.ForgeAlgNone, identity.ForgeHS256,
		identity.ForgeUnknownKey, identity.ForgeWrongKid, identity.ForgeWrongAud, identity.ForgeWrongTenant,
		identity.ForgeWrongCaller, identity.ForgeWrongIssuer, identity.ForgeExpired, identity.ForgeNotYetValid}
	cases := []struct {
		mistake app.Mistake
		through []string // forgeries that get 200
	}{
		{app.NoMistake, nil},
		{app.WebhookSkipAuth, allNames},
		{app.WebhookSkipSignature, signature},
		{app.WebhookSkipAud, []string{identity.ForgeWrongAud}},
		{app.WebhookSkipTid, []string{identity.ForgeWrongTenant}},
		{app.WebhookSkipAzp, []string{identity.ForgeWrongCaller}},
		{app.WebhookSkipExpiry, []string{identity.ForgeExpired, identity.ForgeNotYetValid}},
	}
	for _, c := range cases {
		name := string(c.mistake)
		if name == "" {
			name = "correct"
		}
		t.Run(name, func(t *testing.T) {
			p := e.publisher(func(cfg *app.Config) { cfg.Mistake = c.mistake })
			through := map[string]bool{}
			for _, n := range c.through {
				through[n] = true
			}
			for _, v := range []identity.TokenVersion{identity.V2, identity.V1} {
				forgeries, err := e.idp.Forgeries(e.app, v)
				if err != nil {
					t.Fatal(err)
				}
				if len(forgeries) != len(allNames) {
					t.Fatalf("%d forgeries, the test knows %d", len(forgeries), len(allNames))
				}
				for _, f := range forgeries {
					want := http.StatusUnauthorized
					if through[f.Name] {
						want = http.StatusOK
					}
					if status, body := p.webhook(somePayload(), f.Header); status != want {
						t.Errorf("v%s forgery %s (%s): %d %s, want %d", v, f.Name, f.Check, status, strings.TrimSpace(body), want)
					}
				}
				if status, body := p.webhook(somePayload(), e.genuine(v)); status != http.StatusOK {
					t.Errorf("v%s genuine token: %d %s", v, status, body)
				}
			}
		})
	}
}

// TestWebhookStartsBeforeTheAuthority: providers are created lazily, so a
// publisher whose authority is down starts, answers 503 (retry) rather
// than a 4xx (which would reject a change), and recovers.
func TestWebhookStartsBeforeTheAuthority(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(func(c *app.Config) { c.AuthorityHost = "https://127.0.0.1:1" })
	if status, _ := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusServiceUnavailable {
		t.Fatalf("authority down: %d, want 503", status)
	}
	if status, _ := p.get("/healthz"); status != http.StatusOK {
		t.Fatalf("healthz: %d", status)
	}
}

func TestWebhookPayloadHandling(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)
	auth := e.genuine(identity.V2)

	// Unknown fields are ignored (WH-PAYLOAD-02).
	if status, _ := p.webhook(withExtraField(t, somePayload()), auth); status != http.StatusOK {
		t.Fatalf("extra field: %d", status)
	}
	// Not JSON, or no operation id: 400.
	if status, _ := p.webhook("not a payload", auth); status != http.StatusBadRequest {
		t.Fatalf("bad JSON: %d", status)
	}
	if status, _ := p.webhook(map[string]string{"action": "Suspend"}, auth); status != http.StatusBadRequest {
		t.Fatalf("no ids: %d", status)
	}

	// Idempotency: three deliveries of one ChangeQuantity, one PATCH.
	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 2})
	p.activate(buy)
	op, err := e.m.ChangeQuantity(buy.SubscriptionID, 4)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.eventFor(op.ID)
	for range 3 {
		if status, _ := p.webhook(ev.Payload, auth); status != http.StatusOK {
			t.Fatalf("delivery: %d", status)
		}
	}
	p.a.Close()
	if n := e.calls("updateOperation", op.ID); n != 1 {
		t.Fatalf("%d PATCH operation calls, want 1", n)
	}
	if got, _ := p.probe(buy.SubscriptionID); got.Seats == nil || *got.Seats != 4 {
		t.Fatalf("probe %s", fmtState(got, true))
	}
	e.noErrors()
}

// TestWebhookFollowsAKeyRollover: after Entra rolls its signing keys the
// correct publisher accepts a token signed with the new key (go-oidc reads
// the JWKS again on an unknown kid), and one signed with the old key again
// after a roll back. (jwks-refresh-ignored: mistakes_e2e_test.go.)
func TestWebhookFollowsAKeyRollover(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)
	if status, body := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusOK {
		t.Fatalf("before the rollover: %d %s", status, body)
	}
	e.idp.Rotate()
	if status, body := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusOK {
		t.Errorf("signed with the new key: %d %s", status, strings.TrimSpace(body))
	}
	if _, err := e.idp.RollBack(); err != nil {
		t.Fatal(err)
	}
	if status, body := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusOK {
		t.Errorf("after rolling back: %d %s", status, strings.TrimSpace(body))
	}
}
