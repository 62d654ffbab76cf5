package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// Fields a probe can map from the publisher's answer.
const (
	FieldStatus      = "status"
	FieldPlanID      = "planId"
	FieldQuantity    = "quantity"
	FieldBeneficiary = "beneficiaryTenantId"
	FieldTermEnd     = "termEnd" // compared only after a renewal (CompareTermEnd)
)

// View is the publisher's own view of a subscription, translated into
// Microsoft's vocabulary.
type View struct {
	Status      string // a marketplace status after StatusMap; "" when not mapped
	RawStatus   string // the publisher's own word
	PlanID      string
	Quantity    *int64
	Beneficiary string
	TermEnd     string          // YYYY-MM-DD, "" when the publisher has none
	Known       map[string]bool // which fields the mapping covers
	Raw         string          // the answer as received
}

// Probe reads the publisher's view through its state endpoint.
type Probe struct {
	// URL returns the probe URL for one subscription.
	URL       func(subscriptionID string) (string, error)
	Fields    map[string]string // FieldStatus etc. → JSON path into the answer
	StatusMap map[string]string // publisher's word → marketplace status
	Client    *http.Client
}

// Read fetches and maps the publisher's view.
func (p *Probe) Read(ctx context.Context, subscriptionID string) (View, error) {
	target, err := p.URL(subscriptionID)
	if err != nil {
		return View{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return View{}, fmt.Errorf("driver: probe URL %q: %w", target, err)
	}
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return View{}, fmt.Errorf("driver: probe %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		return View{Raw: string(body), Known: p.known()}, ErrUnknownToPublisher
	}
	if resp.StatusCode/100 != 2 {
		return View{}, fmt.Errorf("driver: probe %s answered %d: %s", target, resp.StatusCode, truncate(string(body), 200))
	}
	return p.Map(body)
}

// ErrUnknownToPublisher is what Read returns when the probe answers 404.
var ErrUnknownToPublisher = fmt.Errorf("driver: the publisher does not know the subscription (probe answered 404)")

func (p *Probe) known() map[string]bool {
	k := map[string]bool{}
	for f := range p.Fields {
		k[f] = true
	}
	return k
}

// Map translates a probe answer through the field mapping.
func (p *Probe) Map(body []byte) (View, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return View{}, fmt.Errorf("driver: the probe answer is not JSON: %w", err)
	}
	v := View{Raw: string(body), Known: p.known()}
	for field, path := range p.Fields {
		val, err := lookup(doc, path)
		var absent *absentError
		if errors.As(err, &absent) && field != FieldStatus {
			val, err = nil, nil // an optional field left out: none
		}
		if err != nil {
			return v, fmt.Errorf("driver: probe field %s: %w", field, err)
		}
		switch field {
		case FieldStatus:
			v.RawStatus = scalar(val)
			v.Status = p.mapStatus(v.RawStatus)
			if v.Status == "" {
				// Publishers that already speak Microsoft's words need no map.
				for _, s := range []marketplace.SubscriptionStatus{marketplace.PendingFulfillmentStart, marketplace.Subscribed,
					marketplace.Suspended, marketplace.Unsubscribed} {
					if strings.EqualFold(strings.TrimSpace(v.RawStatus), string(s)) {
						v.Status = string(s)
					}
				}
			}
		case FieldPlanID:
			v.PlanID = strings.TrimSpace(scalar(val))
		case FieldQuantity:
			if q := strings.TrimSpace(scalar(val)); q != "" {
				n, err := strconv.ParseInt(q, 10, 64)
				if err != nil {
					return v, fmt.Errorf("driver: probe field quantity %v is not a whole number", val)
				}
				v.Quantity = &n
			}
		case FieldBeneficiary:
			v.Beneficiary = scalar(val)
		case FieldTermEnd:
			v.TermEnd = dateOf(scalar(val))
		default:
			return v, fmt.Errorf("driver: unknown probe field %q", field)
		}
	}
	return v, nil
}

// mapStatus translates the publisher's status word through StatusMap. The
// word is matched exactly first, then ignoring case and surrounding space:
// "Active", "active" and "ACTIVE " are one status to a person reading the
// app's records, and a map written for one spelling must not blame another.
func (p *Probe) mapStatus(raw string) string {
	if s, ok := p.StatusMap[raw]; ok {
		return s
	}
	word := strings.TrimSpace(raw)
	for k, s := range p.StatusMap {
		if strings.EqualFold(strings.TrimSpace(k), word) {
			return s
		}
	}
	return ""
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Mismatch is one field on which the publisher and Microsoft disagree.
type Mismatch struct {
	Field     string `json:"field"`
	Microsoft string `json:"microsoft"`
	Publisher string `json:"publisher"`
}

// Compare sets Microsoft's view of sub beside the publisher's, field by
// field, for the fields the probe maps.
func Compare(sub marketplace.Subscription, v View) []Mismatch {
	var out []Mismatch
	add := func(field, ms, pub string) {
		if ms != pub {
			out = append(out, Mismatch{Field: field, Microsoft: ms, Publisher: pub})
		}
	}
	if v.Known[FieldStatus] {
		pub := v.Status
		if pub == "" {
			pub = v.RawStatus + " (unmapped)"
		}
		add(FieldStatus, string(sub.SaasSubscriptionStatus), pub)
	}
	if v.Known[FieldPlanID] && !strings.EqualFold(sub.PlanID, v.PlanID) {
		// Plan ids are compared ignoring case: Partner Center keeps them in
		// lower case, and an app that upper-cases them names the same plan.
		add(FieldPlanID, sub.PlanID, v.PlanID)
	}
	if v.Known[FieldQuantity] && sub.Quantity != nil {
		// Only a per-seat plan has a quantity on Microsoft's side. On any
		// other plan the seat count bills nothing, and apps store it as 0,
		// 1, null or not at all: none of those is a difference.
		add(FieldQuantity, qty(sub.Quantity), qty(v.Quantity))
	}
	if v.Known[FieldBeneficiary] {
		add(FieldBeneficiary, strings.ToLower(sub.Beneficiary.TenantID), strings.ToLower(v.Beneficiary))
	}
	return out
}

// CompareTermEnd sets the term end Microsoft shows beside the publisher's,
// by calendar day; nil when they agree or the probe does not map it.
func CompareTermEnd(sub marketplace.Subscription, v View) *Mismatch {
	if !v.Known[FieldTermEnd] {
		return nil
	}
	ms := ""
	if sub.Term.EndDate != nil {
		ms = sub.Term.EndDate.UTC().Format("2006-01-02")
	}
	if ms == v.TermEnd {
		return nil
	}
	pub := v.TermEnd
	if pub == "" {
		pub = "none"
	}
	return &Mismatch{Field: FieldTermEnd, Microsoft: ms, Publisher: pub}
}

// dateOf reduces an RFC 3339 time or a date to YYYY-MM-DD.
func dateOf(s string) string {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format("2006-01-02")
	}
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

func qty(q *int64) string {
	if q == nil {
		return "none"
	}
	return strconv.FormatInt(*q, 10)
}

// MismatchViolation turns mismatches into one STATE-06 violation (or the
// CSP rule when only the account's tenant differs).
func MismatchViolation(sub marketplace.Subscription, ms []Mismatch, when string) violation.Violation {
	var got, want, fields []string
	for _, m := range ms {
		fields = append(fields, m.Field)
		got = append(got, m.Field+"="+m.Publisher)
		want = append(want, m.Field+"="+m.Microsoft)
	}
	fix := "apply every notification to your own records after GETting the operation, and reconcile from the subscription list"
	if len(ms) == 1 && ms[0].Field == FieldBeneficiary {
		fix = "key the customer's account on the beneficiary's tenant, not the purchaser's (a CSP reseller buys for its customer)"
	}
	return violation.Violation{Rule: "STATE-06", Summary: "publisher's view differs from Microsoft's " + when,
		Field: strings.Join(fields, ","), Got: strings.Join(got, " "), Want: strings.Join(want, " "), Fix: fix,
		SubscriptionID: sub.ID}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
