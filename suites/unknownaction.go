package suites

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// unknownActions are the actions the robustness spec sends. The fake never
// produces them on its own, so they stay out of marketplace's Action
// constants and the spec's operation enum.
var unknownActions = []marketplace.Action{
	// In the WebhookAction enum of Microsoft's SaaS Accelerator, never
	// documented (spec/README.md, "unknown and rare webhook actions").
	"Transfer",
	// Stands for whatever Microsoft adds next, as Subscribe was added.
	"FutureAction",
}

var _ = Describe("Webhook delivery", Label("flow:delivery"), func() {
	It("acknowledges notifications with actions it does not know (Transfer, a future action) and changes nothing",
		Label("WH-PAYLOAD-03", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			p := f.buyForWebhook(marketplace.PurchaseRequest{PlanID: plans().Flat})
			f.awaitQuiet(300 * time.Millisecond)
			before := f.sub(p.SubscriptionID)
			state := f.accountState(p.SubscriptionID)
			mark := len(f.exchanges())
			for _, action := range unknownActions {
				By(fmt.Sprintf("Microsoft notifies the webhook: %s, an action the docs do not list", action))
				// Judged here, not by the sender: a 4xx to an action nobody
				// documented is no refusal of a change (WH-ACK-01/02).
				d, err := quietSender().Deliver(f.ctx, unknownNotice(before, action))
				Expect(err).NotTo(HaveOccurred())
				f.judgeUnknownAck(d)
			}
			f.expectUnknownChangedNothing(p.SubscriptionID, before, state, mark)
			f.expectNoRule("WH-PAYLOAD-03")
			if f.onBehalf == nil {
				f.settledView(p.SubscriptionID, "after notifications with actions the app does not know", false)
			}
			f.done()
		})
})

// unknownNotice is a notification about s with an action the docs do not
// list, in the envelope of the notify-only actions. Its operation id is
// fresh: Microsoft's side holds no operation behind it, so an app that
// GETs it is told 404 and must still answer the notification well.
func unknownNotice(s marketplace.Subscription, action marketplace.Action) marketplace.WebhookPayload {
	return marketplace.WebhookPayload{
		ID: uuid.NewString(), ActivityID: uuid.NewString(), PublisherID: s.PublisherID, OfferID: s.OfferID,
		PlanID: s.PlanID, Quantity: s.Quantity, SubscriptionID: s.ID, TimeStamp: env.MS.Clock.Now().UTC(),
		Action: action, Status: marketplace.OpSucceeded, OperationRequestSource: marketplace.SourceAzure,
		Subscription: s,
	}
}

// judgeUnknownAck records WH-PAYLOAD-03 for the answer to one unknown
// action: a 5xx or no answer within the window is an error (Microsoft
// would retry it for hours), a 4xx a warning (the webhook page asks for
// 200 on every notification; on a subscription the app never activated a
// 4xx is its own business).
func (f *flow) judgeUnknownAck(d driver.Delivery) {
	GinkgoHelper()
	Expect(d.Attempts).NotTo(BeEmpty(), "the %s notification was never sent", d.Payload.Action)
	a := d.Attempts[len(d.Attempts)-1]
	if a.Interrupted {
		return
	}
	action, subID := string(d.Payload.Action), d.Payload.SubscriptionID
	fix := "acknowledge an action you do not handle with 200 and ignore it: never decode the action into a closed list that fails on a new value"
	v := violationFor("WH-PAYLOAD-03", subID, "", "", "200 within "+env.Target.Timeouts.WebhookAck.String(), fix)
	v.Method, v.Path, v.Status, v.At = http.MethodPost, env.Sender.URL, a.Status, a.At
	switch {
	case a.TimedOut || a.Status == 0:
		v.Summary = fmt.Sprintf("webhook gave no answer to a %s notification", action)
		v.Got = "no answer: " + a.Err
	case a.Status >= 500:
		v.Summary = fmt.Sprintf("webhook answered %d to a %s notification, an action it does not know", a.Status, action)
		v.Got = statusText(a.Status) + " " + clip(strings.TrimSpace(a.Body))
	case a.Status >= 400 && f.onBehalf == nil:
		v.Severity = violation.Warning
		v.Summary = fmt.Sprintf("webhook refused a %s notification with %d", action, a.Status)
		v.Got = statusText(a.Status)
		v.Fix = "answer 200 to every notification, including actions you ignore; a 4xx is a rejection only for ChangePlan and ChangeQuantity"
	default:
		return
	}
	f.record(v)
}

// expectUnknownChangedNothing checks, once the app has gone quiet, that
// the unknown actions moved nothing: no change call to Microsoft since
// mark, Microsoft's subscription as before, the app's own status as
// before (state, from accountState).
func (f *flow) expectUnknownChangedNothing(subID string, before marketplace.Subscription, state string, mark int) {
	GinkgoHelper()
	f.awaitQuiet(quietPeriod())
	fix := "ignore actions you do not handle: no call to Microsoft, no change to the account"
	for _, e := range f.exchanges()[mark:] {
		if !strings.EqualFold(e.SubscriptionID, subID) && !strings.Contains(strings.ToLower(e.URL), strings.ToLower(subID)) {
			continue
		}
		if e.Method == http.MethodPatch || e.Method == http.MethodDelete || e.Operation == spec.OpActivate {
			f.record(violationFor("WH-PAYLOAD-03", subID, "a notification with an unknown action made the app change the subscription",
				fmt.Sprintf("%s %s → %d", e.Method, e.URL, e.Status), "no PATCH, DELETE or activate", fix))
		}
	}
	after := f.sub(subID)
	if after.SaasSubscriptionStatus != before.SaasSubscriptionStatus || after.PlanID != before.PlanID ||
		fmtQuantity(after.Quantity) != fmtQuantity(before.Quantity) {
		f.record(violationFor("WH-PAYLOAD-03", subID, "Microsoft's subscription changed after notifications with unknown actions",
			fmt.Sprintf("%s, %s, quantity %s", after.SaasSubscriptionStatus, after.PlanID, fmtQuantity(after.Quantity)),
			fmt.Sprintf("%s, %s, quantity %s", before.SaasSubscriptionStatus, before.PlanID, fmtQuantity(before.Quantity)), fix))
	}
	if now := f.accountState(subID); now != state {
		f.record(violationFor("WH-PAYLOAD-03", subID, "the app's account changed after notifications with unknown actions",
			"publisher status "+now, "publisher status "+state+", untouched", fix))
	}
}

func fmtQuantity(q *int64) string {
	if q == nil {
		return "none"
	}
	return fmt.Sprint(*q)
}
