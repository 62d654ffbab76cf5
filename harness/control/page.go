package control

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// pageData is what the page shows.
type pageData struct {
	Notice     notice
	Plans      []planChoice
	Subs       []subRow
	Violations []violation.Violation
	Transcript []transcriptRow
	Webhook    string // the publisher's webhook, "" when nothing is delivered
	Landing    bool
	// Refresh is set while something waits on the publisher (a purchase
	// not yet activated, an operation in progress, a delivery under way):
	// only then does the page reload itself, so it never wipes a form
	// being filled in while nothing is happening.
	Refresh bool
	Hidden  int // subscriptions beyond the newest maxRows, not shown
}

// maxRows bounds the subscriptions table; the API lists them all.
const maxRows = 200

type subRow struct {
	Sub      marketplace.Subscription
	Quantity string
	Pending  string // the operation in progress, if any
	Plans    []string
	Status   string
	// What the customer can do in this status; the API still accepts any
	// action and answers an invalid one with a clear error.
	CanSuspend, CanReinstate, CanRenew, CanUnsubscribe, CanChange, PerSeat bool
}

type transcriptRow struct {
	Action, SubscriptionID, Status, Result, Latency string
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	d := pageData{Notice: s.notice}
	s.mu.Unlock()
	d.Plans = s.planChoices()
	d.Landing = s.landing != nil
	if s.sender != nil {
		d.Webhook = s.sender.URL
	}
	cat := s.market.Catalog()
	subs := s.subscriptions()
	if len(subs) > maxRows {
		d.Hidden = len(subs) - maxRows
		subs = subs[:maxRows]
	}
	for _, sub := range subs {
		st := sub.SaasSubscriptionStatus
		row := subRow{Sub: sub, Status: string(st),
			CanSuspend:     st == marketplace.Subscribed,
			CanReinstate:   st == marketplace.Suspended,
			CanRenew:       st == marketplace.Subscribed && sub.AutoRenew,
			CanUnsubscribe: st != marketplace.Unsubscribed,
			CanChange:      st == marketplace.Subscribed,
			PerSeat:        sub.Quantity != nil,
		}
		if sub.Quantity != nil {
			row.Quantity = fmt.Sprint(*sub.Quantity)
		}
		if st == marketplace.PendingFulfillmentStart {
			d.Refresh = true
		}
		for _, op := range s.market.Operations(sub.ID) {
			if op.Status == marketplace.OpInProgress {
				row.Pending = string(op.Action) + " in progress"
				d.Refresh = true
			}
		}
		if o, ok := cat.Offer(sub.OfferID); ok {
			for _, p := range o.Plans {
				// A plan change keeps the pricing model: seats to seats,
				// flat to flat, never into a trial.
				if p.PlanID != sub.PlanID && !p.IsStopSell && p.IsPricePerSeat == row.PerSeat && !p.HasFreeTrials {
					row.Plans = append(row.Plans, p.PlanID)
				}
			}
		}
		d.Subs = append(d.Subs, row)
	}
	vs := s.violations()
	for i := len(vs) - 1; i >= 0; i-- { // newest first
		d.Violations = append(d.Violations, vs[i])
	}
	d.Transcript = s.transcript()
	if len(d.Transcript) > maxRows {
		d.Transcript = d.Transcript[:maxRows] // newest first
	}
	for _, t := range d.Transcript {
		if t.Result == "delivering…" {
			d.Refresh = true
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	if err := pageTmpl.Execute(w, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// transcript is every notification, newest first, with what its delivery
// got (or why there was none).
func (s *Server) transcript() []transcriptRow {
	byOp := map[string]DeliveryView{}
	for _, d := range s.deliveries() {
		byOp[d.OperationID] = d
	}
	evs := s.market.Events()
	out := make([]transcriptRow, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		p := evs[i].Payload
		row := transcriptRow{Action: string(p.Action), SubscriptionID: p.SubscriptionID, Status: string(p.Status)}
		d, ok := byOp[p.ID]
		switch {
		case s.sender == nil:
			row.Result = "not delivered (no webhook URL)"
		case !ok:
			row.Result = "delivering…"
		default:
			var res, lat []string
			for _, a := range d.Attempts {
				if a.Status == 0 {
					res = append(res, "no answer")
				} else {
					res = append(res, fmt.Sprint(a.Status))
				}
				lat = append(lat, fmt.Sprintf("%.0f ms", a.LatencyMs))
			}
			row.Result, row.Latency = strings.Join(res, ", "), strings.Join(lat, ", ")
		}
		out = append(out, row)
	}
	return out
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="3">{{end}}
<title>saasconform — fake marketplace</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-size:.9em}
form.inline{display:inline}input[type=number]{width:5em}
button{margin:.1em}.notice{padding:.5em;background:#eef7ee;border:1px solid #9c9}.error{background:#fbeaea;border-color:#d99}
.muted{color:#777}.status-Subscribed{color:#070}.status-Suspended{color:#a60}.status-Unsubscribed{color:#777}.status-PendingFulfillmentStart{color:#06a}
</style></head><body>
<h1>saasconform — fake commercial marketplace</h1>
<p class="muted">Webhook: {{if .Webhook}}<code>{{.Webhook}}</code>{{else}}none (actions change Microsoft's state only){{end}}.
Landing page: {{if .Landing}}configured{{else}}none (tokens are shown instead){{end}}.
{{if .Refresh}}Waiting on your app: this page refreshes every 3 s until nothing is pending.{{else}}Nothing pending. <a href="/">Refresh</a>{{end}}</p>
{{with .Notice}}{{if .Text}}<p class="notice{{if .Error}} error{{end}}">{{.Text}}{{if .Link}} <a href="{{.Link}}">{{.Link}}</a>{{end}}</p>{{end}}{{end}}

<h2>Buy</h2>
<form method="post" action="/ui/purchase">
<label>Plan <select name="plan">{{range .Plans}}<option value="{{.Offer}}/{{.Plan}}">{{.Label}}</option>{{end}}</select></label>
<label>Quantity <input type="number" name="quantity" min="1" placeholder="default"></label>
<label>Kind <select name="kind"><option value="direct">direct</option><option value="csp">csp</option><option value="freeTrial">freeTrial</option><option value="test">test</option></select></label>
<button type="submit">Buy</button>
</form>

<h2>Subscriptions</h2>
{{if .Subs}}<table>
<tr><th>Subscription</th><th>Offer / plan</th><th>Seats</th><th>Status</th><th>Actions</th></tr>
{{range .Subs}}{{$id := .Sub.ID}}<tr data-subscription="{{$id}}">
<td><code>{{$id}}</code><br><span class="muted">{{.Sub.Name}}</span></td>
<td>{{.Sub.OfferID}} / {{.Sub.PlanID}}</td>
<td>{{.Quantity}}</td>
<td class="status-{{.Status}}" data-status="{{.Status}}">{{.Status}}{{if .Pending}}<br><span class="muted">{{.Pending}}</span>{{end}}</td>
<td>
<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/token"><button>Landing link</button></form>
{{if .CanSuspend}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/suspend"><button>Suspend</button></form>{{end}}
{{if .CanReinstate}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/reinstate"><button>Reinstate</button></form>{{end}}
{{if .CanRenew}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/renew"><button>Renew</button></form>{{end}}
{{if .CanUnsubscribe}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/unsubscribe"><button>Unsubscribe</button></form>{{end}}
{{if .CanChange}}<br>
{{if .Plans}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/changePlan"><select name="planId">{{range .Plans}}<option>{{.}}</option>{{end}}</select><button>Change plan</button></form>{{end}}
{{if .PerSeat}}<form class="inline" method="post" action="/ui/subscriptions/{{$id}}/actions/changeQuantity"><input type="number" name="quantity" min="1" value="{{.Quantity}}"><button>Change quantity</button></form>{{end}}{{end}}
</td></tr>
{{end}}</table>{{if .Hidden}}<p class="muted">{{.Hidden}} older subscriptions are not shown here; GET /api/subscriptions lists them all.</p>{{end}}{{else}}<p class="muted">None yet: buy a plan above.</p>{{end}}

<h2>Violations</h2>
{{if .Violations}}<table>
<tr><th>Rule</th><th>Summary</th><th>Fix</th></tr>
{{range .Violations}}<tr><td><code>{{.Rule}}</code>{{if eq .Severity "warning"}} <span class="muted">warning</span>{{end}}</td><td>{{.Summary}}{{if .Method}}<br><span class="muted">{{.Method}} {{.Path}}</span>{{end}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p class="muted">None so far.</p>{{end}}

<h2>Webhook transcript</h2>
{{if .Transcript}}<table>
<tr><th>Action</th><th>Subscription</th><th>Notified as</th><th>Answer</th><th>Latency</th></tr>
{{range .Transcript}}<tr><td>{{.Action}}</td><td><code>{{.SubscriptionID}}</code></td><td>{{.Status}}</td><td>{{.Result}}</td><td>{{.Latency}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No notifications yet.</p>{{end}}
</body></html>
`))
