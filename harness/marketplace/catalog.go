package marketplace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Catalog is the set of offers and plans the fake sells. It is immutable once
// loaded, so one Catalog can back many Marketplaces.
type Catalog struct {
	offers []Offer
	index  map[string]int              // offer id → position in offers
	plans  map[string]map[string]*Plan // offer id → plan id → plan

	// planLists is each offer's listAvailablePlans body, encoded once: a
	// Catalog never changes, and the plan list is the fake's most asked
	// and largest answer.
	planLists     map[string][]byte
	planListsOnce sync.Once
}

// planList is the encoded PlanList of every plan of an offer, private ones
// included.
func (c *Catalog) planList(offerID string) ([]byte, bool) {
	c.planListsOnce.Do(func() {
		c.planLists = map[string][]byte{}
		for _, o := range c.offers {
			out := PlanList{Plans: append([]Plan{}, o.Plans...)}
			if b, err := json.Marshal(out); err == nil {
				c.planLists[o.ID] = b
			}
		}
	})
	b, ok := c.planLists[offerID]
	return b, ok
}

// Offer is one SaaS offer and its plans.
type Offer struct {
	ID          string
	DisplayName string
	Plans       []Plan
}

// Offers returns every offer in file order.
func (c *Catalog) Offers() []Offer {
	out := make([]Offer, len(c.offers))
	for i, o := range c.offers {
		out[i] = cloneOffer(o)
	}
	return out
}

// Offer returns the offer with id.
func (c *Catalog) Offer(id string) (Offer, bool) {
	i, ok := c.index[id]
	if !ok {
		return Offer{}, false
	}
	return cloneOffer(c.offers[i]), true
}

// Plan returns one plan of one offer.
func (c *Catalog) Plan(offerID, planID string) (Plan, bool) {
	p := c.plan(offerID, planID)
	if p == nil {
		return Plan{}, false
	}
	return clonePlan(*p), true
}

// plan is the read-only internal lookup; callers must not modify the result.
func (c *Catalog) plan(offerID, planID string) *Plan {
	return c.plans[offerID][planID]
}

// LoadCatalogFile reads and validates a catalog YAML file.
func LoadCatalogFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("marketplace: catalog: %w", err)
	}
	c, err := LoadCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// The YAML shapes. Keys follow the wire names of Plan so an offer file reads
// like a listAvailablePlans response.
type catalogDoc struct {
	Offers []offerDoc `yaml:"offers"`
}

type offerDoc struct {
	OfferID     string    `yaml:"offerId"`
	DisplayName string    `yaml:"displayName"`
	Plans       []planDoc `yaml:"plans"`
}

type planDoc struct {
	PlanID                string         `yaml:"planId"`
	DisplayName           string         `yaml:"displayName"`
	Description           string         `yaml:"description"`
	IsPrivate             bool           `yaml:"isPrivate"`
	HasFreeTrials         bool           `yaml:"hasFreeTrials"`
	IsPricePerSeat        bool           `yaml:"isPricePerSeat"`
	IsStopSell            bool           `yaml:"isStopSell"`
	Market                string         `yaml:"market"`
	MinQuantity           *int64         `yaml:"minQuantity"`
	MaxQuantity           *int64         `yaml:"maxQuantity"`
	RecurrentBillingTerms []termDoc      `yaml:"recurrentBillingTerms"`
	MeteringDimensions    []dimensionDoc `yaml:"meteringDimensions"`
	// AutoActivation is saasconform's own key, not a wire field: the plan
	// setting Partner Center calls automatic activation (spec/README.md).
	AutoActivation bool `yaml:"autoActivation"`
}

type termDoc struct {
	Currency        string  `yaml:"currency"`
	Price           float64 `yaml:"price"`
	TermUnit        string  `yaml:"termUnit"`
	TermDescription string  `yaml:"termDescription"`
}

type dimensionDoc struct {
	ID            string  `yaml:"id"`
	DisplayName   string  `yaml:"displayName"`
	UnitOfMeasure string  `yaml:"unitOfMeasure"`
	PricePerUnit  float64 `yaml:"pricePerUnit"`
	Currency      string  `yaml:"currency"`
}

// validTermUnits are the ISO 8601 durations Microsoft uses for SaaS terms.
var validTermUnits = map[string]bool{"P1M": true, "P1Y": true, "P2Y": true, "P3Y": true, "P4Y": true, "P5Y": true}

// CatalogError is a catalog that parsed but does not make sense. Line points
// at the offending key in the YAML (0 when unknown).
type CatalogError struct {
	Line int
	Path string // e.g. offers[0].plans[2].maxQuantity
	Msg  string
}

func (e *CatalogError) Error() string {
	return fmt.Sprintf("marketplace: catalog: line %d: %s: %s", e.Line, e.Path, e.Msg)
}

// LoadCatalog parses and validates a catalog. Unknown keys are errors (a typo
// must not silently drop a plan's limits); yaml errors carry their line, and
// validation errors are *CatalogError with the line of the bad key.
func LoadCatalog(data []byte) (*Catalog, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc catalogDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("marketplace: catalog: empty document")
		}
		return nil, fmt.Errorf("marketplace: catalog: %w", err)
	}
	// A second pass keeps the node tree so semantic errors can point at a line.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	loc := locator{root: &root}

	c := &Catalog{index: map[string]int{}, plans: map[string]map[string]*Plan{}}
	if len(doc.Offers) == 0 {
		return nil, &CatalogError{Line: loc.line("offers"), Path: "offers", Msg: "no offers"}
	}
	for i, od := range doc.Offers {
		o, err := buildOffer(od, i, loc)
		if err != nil {
			return nil, err
		}
		if _, dup := c.index[o.ID]; dup {
			return nil, &CatalogError{Line: loc.line("offers", i, "offerId"), Path: fmt.Sprintf("offers[%d].offerId", i),
				Msg: fmt.Sprintf("duplicate offer id %q", o.ID)}
		}
		c.index[o.ID] = len(c.offers)
		c.offers = append(c.offers, o)
		byID := map[string]*Plan{}
		stored := &c.offers[len(c.offers)-1]
		for j := range stored.Plans {
			byID[stored.Plans[j].PlanID] = &stored.Plans[j]
		}
		c.plans[o.ID] = byID
	}
	return c, nil
}

func buildOffer(od offerDoc, i int, loc locator) (Offer, error) {
	bad := func(msg string, keys ...any) error {
		k := append([]any{"offers", i}, keys...)
		return &CatalogError{Line: loc.line(k...), Path: pathOf(k...), Msg: msg}
	}
	if strings.TrimSpace(od.OfferID) == "" {
		return Offer{}, bad("offerId is required")
	}
	if len(od.Plans) == 0 {
		return Offer{}, bad(fmt.Sprintf("offer %q has no plans", od.OfferID), "plans")
	}
	o := Offer{ID: od.OfferID, DisplayName: od.DisplayName}
	seen := map[string]bool{}
	for j, pd := range od.Plans {
		pbad := func(msg string, keys ...any) error {
			return bad(msg, append([]any{"plans", j}, keys...)...)
		}
		switch {
		case strings.TrimSpace(pd.PlanID) == "":
			return Offer{}, pbad("planId is required")
		case seen[pd.PlanID]:
			return Offer{}, pbad(fmt.Sprintf("duplicate plan id %q in offer %q", pd.PlanID, od.OfferID), "planId")
		case pd.IsPricePerSeat && (pd.MinQuantity == nil || pd.MaxQuantity == nil):
			return Offer{}, pbad(fmt.Sprintf("per-seat plan %q needs minQuantity and maxQuantity", pd.PlanID), "isPricePerSeat")
		case !pd.IsPricePerSeat && pd.MinQuantity != nil:
			return Offer{}, pbad(fmt.Sprintf("flat-rate plan %q must not set minQuantity (set isPricePerSeat: true)", pd.PlanID), "minQuantity")
		case !pd.IsPricePerSeat && pd.MaxQuantity != nil:
			return Offer{}, pbad(fmt.Sprintf("flat-rate plan %q must not set maxQuantity (set isPricePerSeat: true)", pd.PlanID), "maxQuantity")
		case pd.IsPricePerSeat && *pd.MinQuantity < 1:
			return Offer{}, pbad(fmt.Sprintf("minQuantity %d must be at least 1", *pd.MinQuantity), "minQuantity")
		case pd.IsPricePerSeat && *pd.MinQuantity > *pd.MaxQuantity:
			return Offer{}, pbad(fmt.Sprintf("minQuantity %d is greater than maxQuantity %d", *pd.MinQuantity, *pd.MaxQuantity), "maxQuantity")
		case len(pd.RecurrentBillingTerms) == 0:
			return Offer{}, pbad(fmt.Sprintf("plan %q has no recurrentBillingTerms", pd.PlanID))
		}
		seen[pd.PlanID] = true
		p := Plan{
			PlanID: pd.PlanID, DisplayName: pd.DisplayName, Description: pd.Description,
			IsPrivate: pd.IsPrivate, HasFreeTrials: pd.HasFreeTrials, IsPricePerSeat: pd.IsPricePerSeat,
			IsStopSell: pd.IsStopSell, Market: pd.Market, AutoActivation: pd.AutoActivation,
			MinQuantity: clonePtr(pd.MinQuantity), MaxQuantity: clonePtr(pd.MaxQuantity),
			PlanComponents: PlanComponents{
				RecurrentBillingTerms: []RecurrentBillingTerm{},
				MeteringDimensions:    []MeteringDimension{},
			},
		}
		if p.Market == "" {
			p.Market = "US"
		}
		for k, td := range pd.RecurrentBillingTerms {
			switch {
			case !validTermUnits[td.TermUnit]:
				return Offer{}, pbad(fmt.Sprintf("termUnit %q is not one of P1M, P1Y, P2Y, P3Y, P4Y, P5Y", td.TermUnit),
					"recurrentBillingTerms", k, "termUnit")
			case td.Currency == "":
				return Offer{}, pbad("currency is required", "recurrentBillingTerms", k)
			case td.Price < 0:
				return Offer{}, pbad(fmt.Sprintf("price %v is negative", td.Price), "recurrentBillingTerms", k, "price")
			}
			p.PlanComponents.RecurrentBillingTerms = append(p.PlanComponents.RecurrentBillingTerms, RecurrentBillingTerm{
				Currency: td.Currency, Price: td.Price, TermUnit: td.TermUnit, TermDescription: td.TermDescription,
			})
		}
		dims := map[string]bool{}
		for k, dd := range pd.MeteringDimensions {
			switch {
			case dd.ID == "":
				return Offer{}, pbad("dimension id is required", "meteringDimensions", k)
			case dims[dd.ID]:
				return Offer{}, pbad(fmt.Sprintf("duplicate dimension id %q", dd.ID), "meteringDimensions", k, "id")
			case dd.PricePerUnit < 0:
				return Offer{}, pbad(fmt.Sprintf("pricePerUnit %v is negative", dd.PricePerUnit), "meteringDimensions", k, "pricePerUnit")
			}
			dims[dd.ID] = true
			p.PlanComponents.MeteringDimensions = append(p.PlanComponents.MeteringDimensions, MeteringDimension{
				ID: dd.ID, Currency: dd.Currency, PricePerUnit: dd.PricePerUnit, UnitOfMeasure: dd.UnitOfMeasure, DisplayName: dd.DisplayName,
			})
		}
		o.Plans = append(o.Plans, p)
	}
	return o, nil
}

// locator finds the line of a key in the parsed YAML tree; keys are mapping
// keys (string) and sequence indexes (int). It returns the deepest line it
// could reach, so a missing key still points at its parent.
type locator struct{ root *yaml.Node }

func (l locator) line(keys ...any) int {
	n := l.root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		var next *yaml.Node
		switch k := k.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func pathOf(keys ...any) string {
	var b strings.Builder
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

func cloneOffer(o Offer) Offer {
	out := o
	out.Plans = make([]Plan, len(o.Plans))
	for i, p := range o.Plans {
		out.Plans[i] = clonePlan(p)
	}
	return out
}

func clonePlan(p Plan) Plan {
	out := p
	out.MinQuantity = clonePtr(p.MinQuantity)
	out.MaxQuantity = clonePtr(p.MaxQuantity)
	out.PlanComponents.RecurrentBillingTerms = append([]RecurrentBillingTerm{}, p.PlanComponents.RecurrentBillingTerms...)
	out.PlanComponents.MeteringDimensions = append([]MeteringDimension{}, p.PlanComponents.MeteringDimensions...)
	if p.SourceOffers != nil {
		out.SourceOffers = append([]SourceOffer{}, p.SourceOffers...)
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
