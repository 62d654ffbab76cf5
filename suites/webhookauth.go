package suites

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

// forgedCalls names each forged webhook token (identity.Forgeries) in the
// words of the requirement. The tokens themselves are minted inside the
// spec: the run's identity provider does not exist while the tree is built.
var forgedCalls = []struct{ name, what string }{
	{identity.ForgeNoToken, "no bearer token"},
	{identity.ForgeMalformed, "a bearer value that is not a JWT"},
	{identity.ForgeAlgNone, "an unsigned token (alg none)"},
	{identity.ForgeHS256, "an HS256 token keyed with Entra's public key"},
	{identity.ForgeUnknownKey, "a token signed by a key Entra does not publish"},
	{identity.ForgeWrongKid, "a token whose signature does not match the key its kid names"},
	{identity.ForgeWrongAud, "a token issued for another app (aud)"},
	{identity.ForgeWrongTenant, "a token from another tenant (tid)"},
	{identity.ForgeWrongCaller, "a token whose caller is not the marketplace (azp/appid)"},
	{identity.ForgeWrongIssuer, "a token from another issuer (iss)"},
	{identity.ForgeExpired, "an expired token (exp)"},
	{identity.ForgeNotYetValid, "a token that is not yet valid (nbf)"},
}

// forgedQuietFor is how long a refused forgery must leave the account alone.
const forgedQuietFor = 300 * time.Millisecond

var _ = Describe("Webhook authentication", Label("flow:webhookAuth", "WH-AUTH-01"), func() {
	for _, fc := range forgedCalls {
		It("refuses a webhook call with "+fc.what+" and changes nothing", Label("forgery:"+fc.name), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend, target.CapWebhookAuth)
			p := f.buyForWebhook(marketplace.PurchaseRequest{PlanID: plans().Flat})
			before := f.accountState(p.SubscriptionID)
			op, err := env.MS.Marketplace.Suspend(p.SubscriptionID)
			Expect(err).NotTo(HaveOccurred())
			payload := f.event(op.ID)

			// The forgery in the run's token version first, then in the other:
			// neither may get through, nor change anything.
			var fg identity.Forgery
			for _, v := range []identity.TokenVersion{webhookVersion(env.Sender), otherVersion(webhookVersion(env.Sender))} {
				fg = forgeryNamed(fc.name, v)
				By(fmt.Sprintf("someone calls the webhook with a forged v%d token (%s): %s", v, fg.Name, fg.Check))
				d, err := env.Sender.Forge(f.ctx, payload, fg)
				Expect(err).NotTo(HaveOccurred())
				f.expectNoRule("WH-AUTH-01")
				Expect(d.Acked()).To(BeFalse(), "WH-AUTH-01: the webhook accepted a forged call (%s)", fg.Check)
			}
			f.expectUntouched(p.SubscriptionID, fg, before)

			By("Microsoft sends the genuine notification")
			if f.onBehalf != nil {
				d, err := quietSender().Deliver(f.ctx, f.event(op.ID))
				Expect(err).NotTo(HaveOccurred())
				f.expectGenuineAccepted(d)
				f.done()
				return
			}
			d := f.notify(op)
			f.expectAcked(d)
			f.settledView(p.SubscriptionID, "after the genuine Suspend", false)
			f.done()
		})
	}

	It("accepts a genuine webhook token in either version (v1 and v2)", func(ctx SpecContext) {
		f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend, target.CapWebhookAuth)
		p := f.buyForWebhook(marketplace.PurchaseRequest{PlanID: plans().Flat})
		op, err := env.MS.Marketplace.Suspend(p.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
		v := otherVersion(webhookVersion(env.Sender))
		if f.onBehalf != nil {
			for _, ver := range []identity.TokenVersion{v, otherVersion(v)} {
				qs := quietSender()
				qs.Version = ver
				By(fmt.Sprintf("Microsoft notifies the webhook with a v%d token", ver))
				d, err := qs.Deliver(f.ctx, f.event(op.ID))
				Expect(err).NotTo(HaveOccurred())
				f.expectGenuineAccepted(d)
			}
			f.done()
			return
		}
		s := &driver.Sender{URL: env.Sender.URL, Client: env.Sender.Client, Issuer: env.Sender.Issuer, App: env.Sender.App,
			Version: v, Clock: env.Sender.Clock, Log: env.Sender.Log, Market: env.Sender.Market,
			AckWindow: env.Sender.AckWindow, Attempts: env.Sender.Attempts, Backoff: env.Sender.Backoff,
			GiveUpAfter: env.Sender.GiveUpAfter}
		By(fmt.Sprintf("Microsoft notifies the webhook with a v%d token", v))
		d, err := s.Deliver(f.ctx, f.event(op.ID))
		Expect(err).NotTo(HaveOccurred())
		f.expectAcked(d)
		f.settledView(p.SubscriptionID, fmt.Sprintf("after a Suspend notified with a v%d token", v), false)
		f.done()
	})
})

func webhookVersion(s *driver.Sender) identity.TokenVersion {
	if s.Version == 0 {
		return identity.V2
	}
	return s.Version
}

func otherVersion(v identity.TokenVersion) identity.TokenVersion {
	if v == identity.V1 {
		return identity.V2
	}
	return identity.V1
}

// forgeryNamed mints the run's forgeries in version v and picks one.
func forgeryNamed(name string, v identity.TokenVersion) identity.Forgery {
	GinkgoHelper()
	all, err := env.MS.Identity.Forgeries(env.MS.App, v)
	Expect(err).NotTo(HaveOccurred(), "minting forged tokens")
	for _, fg := range all {
		if fg.Name == name {
			return fg
		}
	}
	fail("the identity provider mints no forgery named " + name)
	return identity.Forgery{}
}

// accountState is the publisher's status word for a subscription, "unknown"
// when its probe answers 404, "" without a probe.
func (f *flow) accountState(subID string) string {
	GinkgoHelper()
	if env.Probe == nil {
		return ""
	}
	v, err := env.Probe.Read(f.ctx, subID)
	if errors.Is(err, driver.ErrUnknownToPublisher) {
		return "unknown"
	}
	Expect(err).NotTo(HaveOccurred(), "the probe should read the app's view of %s", subID)
	return v.RawStatus
}

// expectUntouched checks, for a short while, that the publisher's account
// is as it was before the forged call (before), although Microsoft already
// says Suspended: the refused call must have had no effect.
func (f *flow) expectUntouched(subID string, fg identity.Forgery, before string) {
	GinkgoHelper()
	if env.Probe == nil || env.Probe.Fields[driver.FieldStatus] == "" {
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, forgedQuietFor)
	defer cancel()
	for {
		if now := f.accountState(subID); now != before {
			f.record(violationFor("WH-AUTH-01", subID,
				"a refused forged webhook call ("+fg.Name+") still changed the account",
				"publisher status "+now, before+", untouched",
				"authenticate the call before reading, queueing or acting on its body: "+fg.Check))
			fail("WH-AUTH-01: a forged webhook call changed the publisher's view\n" + f.violationText())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}
