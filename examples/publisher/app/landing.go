package app

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// resolutionTTL is how long a resolved landing visit may wait for the
// customer's confirmation.
const resolutionTTL = time.Hour

// The landing page (CONTRACT §4 flow 1). The customer arrives from the Azure
// portal with ?token=…; the backend resolves the token, shows what was
// bought, and on confirmation provisions the account and activates the
// subscription. The browser never talks to the Fulfillment API itself.
//
// A production landing page also signs the customer in with Entra ID
// (OpenID Connect) and ties the confirmation to that session; that part is
// left out of this example to keep the marketplace flow in focus.

// handleLanding is GET /landing?token=….
func (a *App) handleLanding(w http.ResponseWriter, r *http.Request) {
	// Query().Get has already URL-decoded the parameter exactly once. Never
	// decode it again: tokens contain '+', '/' and '=' (FUL-RESOLVE-01).
	token := r.URL.Query().Get("token")
	if a.mistake == DecodeTokenTwice {
		if t, err := url.QueryUnescape(token); err == nil {
			token = t // MISTAKE-01: '+' becomes ' '
		}
	}
	if token == "" {
		a.render(w, http.StatusBadRequest, "message", page{Title: "Missing link",
			Message: "This page needs the link from the Azure portal. Open your subscription there and choose “Configure account”."})
		return
	}

	ctx := withCorrelationID(r.Context(), "") // one correlation id for this visit
	res, err := a.api.Resolve(ctx, token)
	if err != nil {
		if apiStatus(err) == http.StatusBadRequest {
			// FUL-RESOLVE-03: the token expired or is not valid. That is the
			// customer's situation to fix, not a server error.
			status := http.StatusBadRequest
			if a.mistake == ExpiredToken500 {
				status = http.StatusInternalServerError // MISTAKE-21
			}
			a.log.Info("landing: token refused", "err", err)
			a.render(w, status, "message", page{Title: "This link has expired",
				Message: "This link has expired. Open the subscription from the Azure portal again and choose “Configure account” (or “Manage account”)."})
			return
		}
		a.apiFailure(w, "We couldn't look up your purchase", err)
		return
	}

	pg := page{
		Title: res.SubscriptionName, Offer: res.OfferID, Plan: res.PlanID, Quantity: res.Quantity,
		SubscriptionID: res.ID, Email: res.Subscription.Beneficiary.EmailID,
	}
	if a.mistake == ResolveFromBrowser {
		// MISTAKE-22: the page's script calls the Fulfillment API itself.
		pg.BrowserResolveURL = a.cfg.MarketplaceURL + "/saas/subscriptions/resolve?api-version=" + APIVersion
		pg.BrowserToken = token
	}

	switch res.Subscription.SaasSubscriptionStatus {
	case statusSubscribed, statusSuspended:
		// A "Manage account" visit (FUL-RESOLVE-02): never activate again.
		if a.mistake == ActivateOnRevisit && res.Subscription.SaasSubscriptionStatus == statusSubscribed {
			// MISTAKE-03: activates on every visit.
			_ = a.api.Activate(ctx, res.ID, activateRequest{PlanID: res.PlanID, Quantity: res.Quantity})
		}
		acc, known := a.store.Account(res.ID)
		if !known || acc.State == StatePending {
			// Active, yet not activated through this page: a plan with
			// automatic activation, whose Subscribe notification may not
			// have arrived yet. Provision it; Microsoft already activated it.
			a.provisionActive(res.Subscription)
			acc, _ = a.store.Account(res.ID)
		}
		if a.mistake == ActivateAfterAuto && acc.AutoActivated && res.Subscription.SaasSubscriptionStatus == statusSubscribed {
			// MISTAKE: activates what Microsoft activated, and shows the
			// refusal to the customer as an error.
			if err := a.api.Activate(ctx, res.ID, activateRequest{PlanID: res.PlanID, Quantity: res.Quantity}); err != nil {
				a.apiFailure(w, "We couldn't activate your subscription", err)
				return
			}
		}
		a.renderManage(w, pg, res.Subscription.SaasSubscriptionStatus)
	case statusPending:
		a.store.SaveResolution(Resolution{
			SubscriptionID: res.ID, SubscriptionName: res.SubscriptionName, OfferID: res.OfferID,
			PlanID: res.PlanID, Quantity: clonePtr(res.Quantity),
			Beneficiary: res.Subscription.Beneficiary, Purchaser: res.Subscription.Purchaser,
			AllowedOperations: res.Subscription.AllowedCustomerOperations,
			CorrelationID:     correlationID(ctx), MarketplaceToken: a.keepTokenForV1(token),
			Expires: time.Now().Add(resolutionTTL),
		})
		a.render(w, http.StatusOK, "confirm", pg)
	default:
		a.render(w, http.StatusOK, "message", page{Title: "This subscription has ended",
			Message: "This subscription is no longer active. You can buy it again from Azure Marketplace."})
	}
}

// keepTokenForV1 keeps the purchase token only for the v1-api mistake.
func (a *App) keepTokenForV1(token string) string {
	if a.mistake == V1API {
		return token
	}
	return ""
}

// handleActivate is POST /landing/activate: the customer confirmed.
func (a *App) handleActivate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.render(w, http.StatusBadRequest, "message", page{Title: "Something is missing", Message: "The form was incomplete. Open the subscription from the Azure portal again."})
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("subscriptionId"))

	// Already provisioned and active: this is a revisit, not an activation.
	if acc, ok := a.store.Account(id); ok && (acc.State == StateActive || acc.State == StateSuspended) {
		a.renderManage(w, page{Title: "Your subscription", Plan: acc.Plan, Quantity: acc.Seats, SubscriptionID: id, Email: acc.CustomerEmail}, "")
		return
	}
	// Activate exactly what resolve returned, never what the form says.
	res, ok := a.store.Resolution(id)
	if !ok {
		a.render(w, http.StatusBadRequest, "message", page{Title: "This link has expired",
			Message: "We couldn't find your purchase. Open the subscription from the Azure portal again and choose “Configure account”."})
		return
	}
	ctx := withCorrelationID(r.Context(), res.CorrelationID)

	// FUL-ACTIVATE-03: provision first, then activate (billing starts at
	// activation).
	acc := Account{
		SubscriptionID: res.SubscriptionID,
		// Key the account on the BENEFICIARY: for a CSP purchase the
		// purchaser is the reseller, not the customer who uses the product.
		CustomerTenant: res.Beneficiary.TenantID, CustomerEmail: res.Beneficiary.EmailID,
		PurchaserTenant: res.Purchaser.TenantID, PurchaserEmail: res.Purchaser.EmailID,
		OfferID: res.OfferID, Plan: res.PlanID, Seats: clonePtr(res.Quantity),
		State: StatePending, Provisioned: true, AllowedOperations: res.AllowedOperations,
	}
	if a.mistake == CSPKeyPurchaser {
		acc.CustomerTenant, acc.CustomerEmail = res.Purchaser.TenantID, res.Purchaser.EmailID // MISTAKE-20
	}
	a.store.SaveAccount(acc)

	if err := a.activate(ctx, res); err != nil {
		a.apiFailure(w, "We couldn't activate your subscription", err)
		return
	}
	a.store.UpdateAccount(id, func(acc *Account) { acc.State = StateActive })
	a.store.DeleteResolution(id)
	a.log.Info("landing: activated", "subscription", id, "plan", res.PlanID, "correlationId", res.CorrelationID)
	a.render(w, http.StatusOK, "done", page{Title: "You're all set", Plan: res.PlanID, Quantity: res.Quantity,
		SubscriptionID: id, Email: acc.CustomerEmail})
}

// activate calls activate with the resolved plan and quantity.
func (a *App) activate(ctx context.Context, res Resolution) error {
	body := activateRequest{PlanID: res.PlanID, Quantity: clonePtr(res.Quantity)}
	switch a.mistake {
	case ActivateWrongPlan:
		body.PlanID = "standard" // MISTAKE-02: the app's own default, not what was bought
	case ActivateWrongQuantity:
		if body.Quantity != nil {
			*body.Quantity++ // MISTAKE-02: not what was bought
		}
	case V1API:
		return a.api.activateV1(ctx, res.SubscriptionID, res.MarketplaceToken, body) // MISTAKE-05
	}
	return a.api.Activate(ctx, res.SubscriptionID, body)
}

func (a *App) renderManage(w http.ResponseWriter, pg page, status string) {
	pg.Suspended = status == statusSuspended
	if acc, ok := a.store.Account(pg.SubscriptionID); ok {
		pg.Suspended = pg.Suspended || acc.State == StateSuspended
	}
	pg.Title = "Manage your account"
	a.render(w, http.StatusOK, "manage", pg)
}

// apiFailure shows a marketplace error as a 502: the fault is upstream.
func (a *App) apiFailure(w http.ResponseWriter, title string, err error) {
	a.log.Error("landing: marketplace call failed", "err", err)
	pg := page{Title: title, Message: "The Microsoft marketplace did not accept our request. Please try again in a few minutes."}
	if s := apiStatus(err); s != 0 {
		pg.UpstreamStatus = s
	}
	a.render(w, http.StatusBadGateway, "message", pg)
}

// page is what the templates show.
type page struct {
	Title, Message    string
	Offer, Plan       string
	Quantity          *int64
	SubscriptionID    string
	Email             string
	Suspended         bool
	UpstreamStatus    int
	BrowserResolveURL string // resolve-from-browser mistake only
	BrowserToken      string // resolve-from-browser mistake only
}

func (a *App) render(w http.ResponseWriter, status int, name string, pg page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages may show the token's result
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, pg); err != nil {
		a.log.Error("landing: template", "err", err)
	}
}

var templates = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Contoso Notes</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
dt{font-weight:600}button{font-size:1rem;padding:.5rem 1.2rem}</style></head><body>
<h1>{{.Title}}</h1>{{end}}
{{define "foot"}}{{if .BrowserResolveURL}}<script>
// MISTAKE-22 (resolve-from-browser): the browser calls the Fulfillment API.
fetch({{.BrowserResolveURL}}, {method: "POST", headers: {"x-ms-marketplace-token": {{.BrowserToken}}}}).catch(function () {});
</script>{{end}}</body></html>{{end}}
{{define "details"}}<dl>
{{if .Offer}}<dt>Offer</dt><dd id="offer">{{.Offer}}</dd>{{end}}
{{if .Plan}}<dt>Plan</dt><dd id="plan">{{.Plan}}</dd>{{end}}
{{if .Quantity}}<dt>Seats</dt><dd id="quantity">{{.Quantity}}</dd>{{end}}
{{if .Email}}<dt>Account</dt><dd id="email">{{.Email}}</dd>{{end}}
</dl>{{end}}
{{define "confirm"}}{{template "head" .}}
<p>Thanks for your purchase. Please check the details and confirm to set up your account.</p>
{{template "details" .}}
<form method="post" action="/landing/activate">
<input type="hidden" name="subscriptionId" value="{{.SubscriptionID}}">
<button type="submit">Confirm and activate</button>
</form>{{template "foot" .}}{{end}}
{{define "done"}}{{template "head" .}}
<p>You're all set: your account is ready to use.</p>
{{template "details" .}}{{template "foot" .}}{{end}}
{{define "manage"}}{{template "head" .}}
{{if .Suspended}}<p>Your subscription is suspended because of a payment problem. Your data is kept; fix the payment in the Azure portal to continue.</p>
{{else}}<p>Your account is active.</p>{{end}}
{{template "details" .}}{{template "foot" .}}{{end}}
{{define "message"}}{{template "head" .}}
<p>{{.Message}}</p>{{if .UpstreamStatus}}<p>Marketplace status: <code>{{.UpstreamStatus}}</code></p>{{end}}
{{template "foot" .}}{{end}}
`))
