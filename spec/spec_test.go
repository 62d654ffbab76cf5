package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ---------------------------------------------------------------------------
// 1. The document loads and validates.

func TestLoadValidates(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != ServerURL {
		t.Errorf("servers = %v, want exactly one %q", doc.Servers, ServerURL)
	}
	if !bytes.Equal(YAML(), fulfillmentV2) {
		t.Error("YAML() differs from the embedded document")
	}
}

func TestLoadReturnsFreshDocument(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	a.Servers = openapi3.Servers{{URL: "http://changed.invalid/api"}}
	a.Paths.Delete("/saas/subscriptions")
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if b.Servers[0].URL != ServerURL {
		t.Errorf("second Load sees the first caller's servers: %q", b.Servers[0].URL)
	}
	if b.Paths.Value("/saas/subscriptions") == nil {
		t.Error("second Load sees the first caller's path deletion")
	}
}

func TestOperationIDs(t *testing.T) {
	want := map[string]string{
		OpResolve:            "POST /saas/subscriptions/resolve",
		OpListSubscriptions:  "GET /saas/subscriptions",
		OpGetSubscription:    "GET /saas/subscriptions/{subscriptionId}",
		OpUpdateSubscription: "PATCH /saas/subscriptions/{subscriptionId}",
		OpDeleteSubscription: "DELETE /saas/subscriptions/{subscriptionId}",
		OpListAvailablePlans: "GET /saas/subscriptions/{subscriptionId}/listAvailablePlans",
		OpActivate:           "POST /saas/subscriptions/{subscriptionId}/activate",
		OpListOperations:     "GET /saas/subscriptions/{subscriptionId}/operations",
		OpGetOperation:       "GET /saas/subscriptions/{subscriptionId}/operations/{operationId}",
		OpUpdateOperation:    "PATCH /saas/subscriptions/{subscriptionId}/operations/{operationId}",
	}
	if len(OperationIDs()) != len(want) {
		t.Errorf("OperationIDs() has %d entries, want %d", len(OperationIDs()), len(want))
	}
	doc := MustLoad()
	got := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if _, dup := got[op.OperationID]; dup {
				t.Errorf("operationId %q used twice", op.OperationID)
			}
			got[op.OperationID] = method + " " + path
		}
	}
	for _, id := range OperationIDs() {
		if got[id] != want[id] {
			t.Errorf("operationId %q: got %q, want %q", id, got[id], want[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("document has %d operations, want %d: %v", len(got), len(want), got)
	}
	// Every operation: api-version, both tracing headers; every body closed;
	// every operation has a default response.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := map[string]*openapi3.Parameter{}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				params[p.Value.In+":"+p.Value.Name] = p.Value
			}
			if p := params["query:api-version"]; p == nil || !p.Required || !slices.Equal(p.Schema.Value.Enum, []any{APIVersion}) {
				t.Errorf("%s %s: api-version is not a required query parameter with enum [%s]", method, path, APIVersion)
			}
			for _, h := range []string{"x-ms-requestid", "x-ms-correlationid"} {
				if p := params["header:"+h]; p == nil || p.Required || p.Schema.Value.Format != "uuid" {
					t.Errorf("%s %s: header %s missing, required or not uuid", method, path, h)
				}
			}
			if op.Responses.Default() == nil {
				t.Errorf("%s %s: no default response", method, path)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// 2. Coverage against Microsoft's document.

// referencePath finds Microsoft's saasapi.v2.json: SAASCONFORM_REFERENCE, or
// the shared reference directory next to the repository.
func referencePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SAASCONFORM_REFERENCE"); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, "saasapi.v2.json")
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SAASCONFORM_REFERENCE=%q: %v", os.Getenv("SAASCONFORM_REFERENCE"), err)
		}
		return p
	}
	p := filepath.Join("..", "..", "shared", "reference", "saasapi.v2.json")
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("Microsoft's saasapi.v2.json not found at %s (set SAASCONFORM_REFERENCE to its path): %v", p, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("coverage check skipped: " + msg)
	}
	return p
}

func loadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// docJSON turns a loaded document into plain JSON values ($refs kept).
func docJSON(t *testing.T, doc *openapi3.T) map[string]any {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCoverageOfMicrosoftDocument(t *testing.T) {
	official := loadJSON(t, referencePath(t))
	ours := docJSON(t, MustLoad())
	gaps := coverageGaps(official, ours)
	for _, g := range gaps {
		t.Error(g)
	}
	if len(gaps) > 0 {
		t.Logf("%d gap(s) between Microsoft's document and ours", len(gaps))
	}
}

// TestCoverageCheckCanFail weakens our document and expects the comparison
// to name each weakening.
func TestCoverageCheckCanFail(t *testing.T) {
	official := loadJSON(t, referencePath(t))

	doc := MustLoad()
	// Drop a deep response property (Subscription.term.termUnit, reached
	// through ResolvedSubscription.subscription and every list too).
	delete(doc.Components.Schemas["Term"].Value.Properties, "termUnit")
	// Drop a parameter from one operation.
	list := doc.Paths.Value("/saas/subscriptions").Get
	list.Parameters = slices.DeleteFunc(list.Parameters, func(p *openapi3.ParameterRef) bool {
		return p.Value.Name == "continuationToken"
	})
	// Drop an enum value and a response code.
	st := doc.Components.Schemas["OperationStatus"].Value
	st.Enum = slices.DeleteFunc(st.Enum, func(v any) bool { return v == "Conflict" })
	doc.Paths.Value("/saas/subscriptions/{subscriptionId}").Delete.Responses.Delete("404")

	gaps := coverageGaps(official, docJSON(t, doc))
	joined := strings.Join(gaps, "\n")
	for _, want := range []string{
		"GET /saas/subscriptions: missing parameter continuationToken in query",
		"GET /saas/subscriptions/{subscriptionId} response 200 application/json: missing property .term.termUnit",
		"POST /saas/subscriptions/resolve response 200 application/json: missing property .subscription.term.termUnit",
		"GET /saas/subscriptions response 200 application/json: missing property .subscriptions[].term.termUnit",
		`GET /saas/subscriptions/{subscriptionId}/operations/{operationId} response 200 application/json: .status: enum value "Conflict" missing`,
		"DELETE /saas/subscriptions/{subscriptionId}: missing response 404",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("weakened document: expected a gap %q; got:\n%s", want, joined)
		}
	}

	// A missing operation is reported, with trailing slashes normalised.
	doc = MustLoad()
	doc.Paths.Value("/saas/subscriptions").Get = nil
	gaps = coverageGaps(official, docJSON(t, doc))
	if !slices.Contains(gaps, "missing operation GET /saas/subscriptions") {
		t.Errorf("expected the missing list operation to be reported; got %q", gaps)
	}
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// coverageGaps lists everything Microsoft's document (official) describes
// that ours lacks: operations, parameters, request and response schema
// properties at the same JSON path, response codes and headers, and enum
// values. Both documents are plain decoded JSON.
func coverageGaps(official, ours map[string]any) []string {
	c := &coverage{off: official, ours: ours}
	ourPaths := map[string]map[string]any{}
	for p, item := range asMap(ours["paths"]) {
		ourPaths[normPath(p)] = asMap(item)
	}
	offPaths := asMap(official["paths"])
	for _, p := range sortedKeys(offPaths) {
		offItem := asMap(offPaths[p])
		ourItem := ourPaths[normPath(p)]
		for _, m := range httpMethods {
			offOp := asMap(offItem[m])
			if offOp == nil {
				continue
			}
			where := strings.ToUpper(m) + " " + normPath(p)
			ourOp := asMap(ourItem[m])
			if ourOp == nil {
				c.gap("missing operation %s", where)
				continue
			}
			c.compareOperation(where, offItem, offOp, ourItem, ourOp)
		}
	}
	return c.gaps
}

type coverage struct {
	off, ours map[string]any
	gaps      []string
}

func (c *coverage) gap(format string, args ...any) {
	c.gaps = append(c.gaps, fmt.Sprintf(format, args...))
}

func (c *coverage) compareOperation(where string, offItem, offOp, ourItem, ourOp map[string]any) {
	offParams := c.params(c.off, offItem, offOp)
	ourParams := c.params(c.ours, ourItem, ourOp)
	for _, k := range sortedKeys(offParams) {
		op := offParams[k]
		name, in := asString(op["name"]), asString(op["in"])
		ourP, ok := ourParams[k]
		if !ok {
			c.gap("%s: missing parameter %s in %s", where, name, in)
			continue
		}
		c.compareSchema(fmt.Sprintf("%s parameter %s in %s", where, name, in), "", op["schema"], ourP["schema"], 0)
	}

	if offBody := asMap(c.resolve(c.off, offOp["requestBody"])); offBody != nil {
		ourBody := asMap(c.resolve(c.ours, ourOp["requestBody"]))
		if ourBody == nil {
			c.gap("%s: missing request body", where)
		} else {
			c.compareContent(where+" request body", asMap(offBody["content"]), asMap(ourBody["content"]))
		}
	}

	offResps, ourResps := asMap(offOp["responses"]), asMap(ourOp["responses"])
	for _, code := range sortedKeys(offResps) {
		offR := asMap(c.resolve(c.off, offResps[code]))
		ourR := asMap(c.resolve(c.ours, ourResps[code]))
		if ourR == nil {
			c.gap("%s: missing response %s", where, code)
			continue
		}
		ourHeaders := map[string]bool{}
		for h := range asMap(ourR["headers"]) {
			ourHeaders[strings.ToLower(h)] = true
		}
		for _, h := range sortedKeys(asMap(offR["headers"])) {
			if !ourHeaders[strings.ToLower(h)] {
				c.gap("%s response %s: missing header %s", where, code, h)
			}
		}
		c.compareContent(fmt.Sprintf("%s response %s", where, code), asMap(offR["content"]), asMap(ourR["content"]))
	}
}

// params merges path-level and operation-level parameters, keyed by in and
// name (header names compared case-insensitively).
func (c *coverage) params(root, item, op map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		for _, p := range asSlice(list) {
			pm := asMap(c.resolve(root, p))
			name, in := asString(pm["name"]), asString(pm["in"])
			if in == "header" {
				name = strings.ToLower(name)
			}
			out[in+":"+name] = pm
		}
	}
	return out
}

func (c *coverage) compareContent(where string, off, ours map[string]any) {
	for _, mt := range sortedKeys(off) {
		ourMT := asMap(ours[mt])
		if ourMT == nil {
			c.gap("%s: missing media type %s", where, mt)
			continue
		}
		c.compareSchema(where+" "+mt, "", asMap(off[mt])["schema"], ourMT["schema"], 0)
	}
}

// compareSchema walks the official schema and checks that ours has every
// property (at the same JSON path), array items and enum value.
func (c *coverage) compareSchema(where, path string, offS, ourS any, depth int) {
	if depth > 40 {
		return
	}
	off := c.flatten(c.off, offS)
	if off == nil {
		return
	}
	ours := c.flatten(c.ours, ourS)
	at := path
	if at == "" {
		at = "(root)"
	}
	if ours == nil {
		c.gap("%s: missing schema at %s", where, at)
		return
	}
	if len(off.enum) > 0 {
		if len(ours.enum) == 0 {
			c.gap("%s: %s: official enum %v, ours has none", where, at, off.enum)
		}
		for _, v := range off.enum {
			if len(ours.enum) > 0 && !slices.Contains(ours.enum, v) {
				c.gap("%s: %s: enum value %q missing", where, at, v)
			}
		}
	}
	for _, name := range sortedKeys(off.props) {
		ourP, ok := ours.props[name]
		if !ok {
			c.gap("%s: missing property %s.%s", where, path, name)
			continue
		}
		c.compareSchema(where, path+"."+name, off.props[name], ourP, depth+1)
	}
	if off.items != nil {
		if ours.items == nil {
			c.gap("%s: %s: official is an array, ours has no items", where, at)
		} else {
			c.compareSchema(where, path+"[]", off.items, ours.items, depth+1)
		}
	}
}

// flatSchema is a schema with its $refs resolved and the properties, items
// and enums of its allOf/oneOf/anyOf branches merged in.
type flatSchema struct {
	props map[string]any
	items any
	enum  []string
}

func (c *coverage) flatten(root map[string]any, s any) *flatSchema {
	m := asMap(c.resolve(root, s))
	if m == nil {
		return nil
	}
	f := &flatSchema{props: map[string]any{}}
	var add func(m map[string]any, depth int)
	add = func(m map[string]any, depth int) {
		if m == nil || depth > 20 {
			return
		}
		for k, v := range asMap(m["properties"]) {
			if _, seen := f.props[k]; !seen {
				f.props[k] = v
			}
		}
		if m["items"] != nil && f.items == nil {
			f.items = m["items"]
		}
		for _, v := range asSlice(m["enum"]) {
			if s := fmt.Sprint(v); !slices.Contains(f.enum, s) {
				f.enum = append(f.enum, s)
			}
		}
		for _, comb := range []string{"allOf", "oneOf", "anyOf"} {
			for _, sub := range asSlice(m[comb]) {
				add(asMap(c.resolve(root, sub)), depth+1)
			}
		}
	}
	add(m, 0)
	return f
}

// resolve follows local $refs ("#/..."). A $ref that cannot be followed
// yields nil, which the callers report as missing.
func (c *coverage) resolve(root map[string]any, v any) any {
	for i := 0; i < 20; i++ {
		m := asMap(v)
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil
		}
		var cur any = root
		for _, tok := range strings.Split(ref[2:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			cur = asMap(cur)[tok]
		}
		v = cur
	}
	return nil
}

func normPath(p string) string {
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }
func asString(v any) string      { s, _ := v.(string); return s }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
// 3. Strictness under kin-openapi request and response validation.

const (
	testBase  = "http://fake.test/api"
	testSubID = "3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	testOpID  = "8c7b6a59-4d3e-4f2a-8b1c-0d9e8f7a6b5c"
)

func testRouter(t *testing.T) routers.Router {
	t.Helper()
	doc := MustLoad()
	doc.Servers = openapi3.Servers{{URL: testBase}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func filterOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc, // auth is the fake's own check
		SchemaValidationOptions: ValidationOptions(),
	}
}

func subURL(suffix, query string) string {
	u := testBase + "/saas/subscriptions/" + testSubID + suffix
	if query != "" {
		u += "?" + query
	}
	return u
}

const av = "api-version=" + APIVersion

func validateRequest(t *testing.T, r routers.Router, req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	t.Helper()
	route, params, err := r.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: filterOptions()}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

func TestRequestStrictness(t *testing.T) {
	r := testRouter(t)
	cases := []struct {
		name    string
		method  string
		url     string
		body    string
		headers map[string]string
		ok      bool
		errHas  string
	}{
		{name: "update with planId only", method: http.MethodPatch, url: subURL("", av), body: `{"planId":"gold"}`, ok: true},
		{name: "update with quantity only", method: http.MethodPatch, url: subURL("", av), body: `{"quantity":5}`, ok: true},
		{name: "update with planId and quantity", method: http.MethodPatch, url: subURL("", av), body: `{"planId":"gold","quantity":5}`, errHas: "request body"},
		{name: "update with empty body object", method: http.MethodPatch, url: subURL("", av), body: `{}`, errHas: "request body"},
		{name: "update with zero quantity", method: http.MethodPatch, url: subURL("", av), body: `{"quantity":0}`, errHas: "request body"},
		{name: "activate with planId", method: http.MethodPost, url: subURL("/activate", av), body: `{"planId":"gold","quantity":3}`, ok: true},
		// Only the subscription id is needed (spec/README.md, "activate body").
		{name: "activate without planId", method: http.MethodPost, url: subURL("/activate", av), body: `{"quantity":3}`, ok: true},
		{name: "activate with empty object", method: http.MethodPost, url: subURL("/activate", av), body: `{}`, ok: true},
		{name: "activate without body", method: http.MethodPost, url: subURL("/activate", av), ok: true},
		{name: "activate with empty planId", method: http.MethodPost, url: subURL("/activate", av), body: `{"planId":""}`, errHas: "planId"},
		{name: "activate with zero quantity", method: http.MethodPost, url: subURL("/activate", av), body: `{"quantity":0}`, errHas: "quantity"},
		{name: "activate with unknown field", method: http.MethodPost, url: subURL("/activate", av), body: `{"planId":"gold","marketplaceToken":"x"}`, errHas: "marketplaceToken"},
		{name: "get without api-version", method: http.MethodGet, url: subURL("", ""), errHas: "api-version"},
		{name: "get with v1 api-version", method: http.MethodGet, url: subURL("", "api-version=2017-04-15"), errHas: "api-version"},
		{name: "get with bad uuid path param", method: http.MethodGet, url: testBase + "/saas/subscriptions/not-a-guid?" + av, errHas: "subscriptionId"},
		{name: "get with bad request id header", method: http.MethodGet, url: subURL("", av), headers: map[string]string{"x-ms-requestid": "req-1"}, errHas: "x-ms-requestid"},
		{name: "get with GUID tracing headers", method: http.MethodGet, url: subURL("", av), headers: map[string]string{"x-ms-requestid": testOpID, "x-ms-correlationid": strings.ToUpper(testOpID)}, ok: true},
		{name: "patch op Success", method: http.MethodPatch, url: subURL("/operations/"+testOpID, av), body: `{"status":"Success"}`, ok: true},
		{name: "patch op Failure with plan and quantity", method: http.MethodPatch, url: subURL("/operations/"+testOpID, av), body: `{"status":"Failure","planId":"gold","quantity":2}`, ok: true},
		{name: "patch op Done", method: http.MethodPatch, url: subURL("/operations/"+testOpID, av), body: `{"status":"Done"}`, errHas: "status"},
		{name: "patch op bad operation id", method: http.MethodPatch, url: subURL("/operations/42", av), body: `{"status":"Success"}`, errHas: "operationId"},
		{name: "resolve with token", method: http.MethodPost, url: testBase + "/saas/subscriptions/resolve?" + av, headers: map[string]string{"x-ms-marketplace-token": "abc+/="}, ok: true},
		{name: "resolve without token", method: http.MethodPost, url: testBase + "/saas/subscriptions/resolve?" + av, errHas: "x-ms-marketplace-token"},
		{name: "list with continuation", method: http.MethodGet, url: testBase + "/saas/subscriptions?" + av + "&continuationToken=abc", ok: true},
		{name: "plans filtered", method: http.MethodGet, url: subURL("/listAvailablePlans", av+"&planId=gold"), ok: true},
		{name: "delete", method: http.MethodDelete, url: subURL("", av), ok: true},
		{name: "list operations", method: http.MethodGet, url: subURL("/operations", av), ok: true},
		{name: "v1 activate by PUT has no route", method: http.MethodPut, url: subURL("", av), body: `{"planId":"gold"}`, errHas: "route"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			req := httptest.NewRequest(tc.method, tc.url, body)
			req.Header.Set("Authorization", "Bearer test")
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			_, err := validateRequest(t, r, req)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("want accepted, got %v", err)
			case !tc.ok && err == nil:
				t.Fatal("want rejected, got accepted")
			case !tc.ok && !strings.Contains(err.Error(), tc.errHas):
				t.Fatalf("error %q does not mention %q", err, tc.errHas)
			}
		})
	}
}

// fullSubscription is a Subscription as the fake sends it (the JSON of
// harness/marketplace.Subscription), with every optional field filled in.
// The test builds JSON by hand rather than importing harness/marketplace,
// which will import this package.
func fullSubscription() map[string]any {
	return map[string]any{
		"id":                        testSubID,
		"publisherId":               "contoso",
		"offerId":                   "offer-1",
		"name":                      "Contoso seats",
		"saasSubscriptionStatus":    "Subscribed",
		"beneficiary":               map[string]any{"emailId": "user@example.com", "objectId": "11111111-2222-4333-8444-555555555555", "tenantId": "66666666-7777-4888-9999-aaaaaaaaaaaa", "puid": "1003BFFD"},
		"purchaser":                 map[string]any{"emailId": "buyer@example.com", "objectId": "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff", "tenantId": "66666666-7777-4888-9999-aaaaaaaaaaaa"},
		"planId":                    "gold",
		"quantity":                  5,
		"term":                      map[string]any{"termUnit": "P1M", "startDate": "2026-01-01T00:00:00Z", "endDate": "2026-02-01T00:00:00Z", "chargeDuration": "P1M"},
		"autoRenew":                 true,
		"isTest":                    false,
		"isFreeTrial":               false,
		"allowedCustomerOperations": []any{"Read", "Update", "Delete"},
		"sandboxType":               "None",
		"created":                   "2026-01-01T00:00:00Z",
		"lastModified":              "2026-01-01T00:00:00.123456789Z",
		"sessionMode":               "None",
	}
}

// minimalSubscription drops every field types.go marks omitempty.
func minimalSubscription() map[string]any {
	m := fullSubscription()
	delete(m, "quantity")
	m["term"] = map[string]any{"termUnit": "P1Y"}
	delete(asMap(m["beneficiary"]), "puid")
	return m
}

func validateResponse(t *testing.T, r routers.Router, req *http.Request, status int, header http.Header, body any) error {
	t.Helper()
	in, err := validateRequest(t, r, req)
	if err != nil {
		t.Fatalf("request itself invalid: %v", err)
	}
	var raw []byte
	if body != nil {
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		if header == nil {
			header = http.Header{}
		}
		header.Set("Content-Type", "application/json")
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: ValidationOptions()},
	}
	out.SetBodyBytes(raw)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

func TestResponseStrictness(t *testing.T) {
	r := testRouter(t)
	patch := func() *http.Request {
		req := httptest.NewRequest(http.MethodPatch, subURL("", av), strings.NewReader(`{"planId":"gold"}`))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	get := func() *http.Request { return httptest.NewRequest(http.MethodGet, subURL("", av), nil) }
	opLoc := subURL("/operations/"+testOpID, av)

	sub := fullSubscription()
	noStatus := fullSubscription()
	delete(noStatus, "saasSubscriptionStatus")
	badStatus := fullSubscription()
	badStatus["saasSubscriptionStatus"] = "Active"
	badTenant := fullSubscription()
	asMap(badTenant["beneficiary"])["tenantId"] = "contoso.onmicrosoft.com"
	badOp := fullSubscription()
	badOp["allowedCustomerOperations"] = []any{"Read", "Cancel"}
	nullOps := fullSubscription()
	nullOps["allowedCustomerOperations"] = nil
	extra := fullSubscription()
	extra["somethingNew"] = true
	errBody := func(code, msg string) map[string]any {
		return map[string]any{"error": map[string]any{"code": code, "message": msg}}
	}

	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		header http.Header
		body   any
		ok     bool
		errHas string
	}{
		{name: "202 with Operation-Location", req: patch, status: 202, header: http.Header{"Operation-Location": {opLoc}}, ok: true},
		{name: "202 without Operation-Location", req: patch, status: 202, errHas: `"Operation-Location" missing`},
		{name: "202 with relative Operation-Location", req: patch, status: 202, header: http.Header{"Operation-Location": {"/operations/x"}}, errHas: `format "uri"`},
		{name: "subscription complete", req: get, status: 200, body: sub, ok: true},
		{name: "subscription with unknown extra field", req: get, status: 200, body: extra, ok: true},
		{name: "subscription missing saasSubscriptionStatus", req: get, status: 200, body: noStatus, errHas: `"saasSubscriptionStatus" is missing`},
		{name: "subscription with unknown status", req: get, status: 200, body: badStatus, errHas: "/saasSubscriptionStatus"},
		{name: "subscription with non-GUID tenantId", req: get, status: 200, body: badTenant, errHas: `format "uuid"`},
		{name: "subscription with unknown allowed operation", req: get, status: 200, body: badOp, errHas: "/allowedCustomerOperations/1"},
		{name: "subscription with null allowedCustomerOperations", req: get, status: 200, body: nullOps, errHas: "not nullable"},
		{name: "subscription with only required fields", req: get, status: 200, body: minimalSubscription(), ok: true},
		{name: "404 with error body", req: get, status: 404, body: map[string]any{"error": map[string]any{"code": "NotFound", "message": "no such subscription", "target": "subscriptionId", "details": []any{errBody("x", "y")["error"]}}}, ok: true},
		{name: "404 with nested detail missing code", req: get, status: 404, body: map[string]any{"error": map[string]any{"code": "NotFound", "message": "m", "details": []any{map[string]any{"message": "y"}}}}, errHas: "/error/details/0/code"},
		{name: "404 with error missing message", req: get, status: 404, body: map[string]any{"error": map[string]any{"code": "NotFound"}}, errHas: `"message" is missing`},
		{name: "418 falls to default with error body", req: get, status: 418, body: errBody("Teapot", "no"), ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateResponse(t, r, tc.req(), tc.status, tc.header, tc.body)
			if tc.ok && err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("want rejected, got accepted")
			}
			if !tc.ok && !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error does not mention %q: %v", tc.errHas, err)
			}
		})
	}
}

// TestSchemasAcceptWireShapes checks that JSON in the shape of the Go wire
// types (harness/marketplace/types.go) validates against the document's
// schemas, with optional fields present and absent.
func TestSchemasAcceptWireShapes(t *testing.T) {
	doc := MustLoad()
	sub := fullSubscription()
	plan := map[string]any{
		"planId": "gold", "displayName": "Gold", "isPrivate": false, "description": "d",
		"minQuantity": 1, "maxQuantity": 100, "hasFreeTrials": false, "isPricePerSeat": true, "isStopSell": false, "market": "US",
		"planComponents": map[string]any{
			"recurrentBillingTerms": []any{map[string]any{"currency": "USD", "price": 10.5, "termUnit": "P1M", "termDescription": "monthly",
				"meteredQuantityIncluded": []any{map[string]any{"dimensionId": "api", "units": "1000"}}}},
			"meteringDimensions": []any{map[string]any{"id": "api", "currency": "USD", "pricePerUnit": 0.1, "unitOfMeasure": "call", "displayName": "API calls"}},
		},
		"sourceOffers": []any{map[string]any{"externalId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}},
	}
	minimalPlan := map[string]any{
		"planId": "free", "displayName": "Free", "isPrivate": false, "description": "",
		"hasFreeTrials": false, "isPricePerSeat": false, "isStopSell": false, "market": "",
		"planComponents": map[string]any{"recurrentBillingTerms": []any{}, "meteringDimensions": []any{}},
	}
	op := map[string]any{
		"id": testOpID, "activityId": testOpID, "subscriptionId": testSubID, "offerId": "offer-1", "publisherId": "contoso",
		"planId": "gold", "quantity": 5, "action": "ChangeQuantity", "timeStamp": "2026-02-03T04:05:06.000000789Z",
		"status": "InProgress", "operationRequestSource": "Partner",
	}
	hook := map[string]any{
		"id": testOpID, "activityId": testOpID, "publisherId": "contoso", "offerId": "offer-1", "planId": "gold",
		"quantity": nil, "subscriptionId": testSubID, "timeStamp": "2026-02-03T04:05:06Z", "action": "Suspend",
		"status": "Succeeded", "operationRequestSource": "Azure", "subscription": sub, "purchaseToken": nil,
	}
	hookNoToken := maps.Clone(hook)
	delete(hookNoToken, "purchaseToken")
	opBadAction := maps.Clone(op)
	opBadAction["action"] = "Transfer"
	planNoComponents := maps.Clone(minimalPlan)
	delete(planNoComponents, "planComponents")

	cases := []struct {
		name, schema string
		value        any
		ok           bool
	}{
		{"full subscription", "Subscription", sub, true},
		{"minimal subscription", "Subscription", minimalSubscription(), true},
		{"resolved", "ResolvedSubscription", map[string]any{"id": testSubID, "subscriptionName": "n", "offerId": "o", "planId": "gold", "quantity": 5, "subscription": sub}, true},
		{"resolved without subscription", "ResolvedSubscription", map[string]any{"id": testSubID, "subscriptionName": "n", "offerId": "o", "planId": "gold"}, false},
		{"page with next link", "SubscriptionPage", map[string]any{"subscriptions": []any{sub, minimalSubscription()}, "@nextLink": testBase + "/saas/subscriptions?continuationToken=abc&" + av}, true},
		{"empty last page", "SubscriptionPage", map[string]any{"subscriptions": []any{}}, true},
		{"page with relative next link", "SubscriptionPage", map[string]any{"subscriptions": []any{}, "@nextLink": "/saas/subscriptions?continuationToken=abc"}, false},
		{"plans", "PlanList", map[string]any{"plans": []any{plan, minimalPlan}}, true},
		{"plan without components", "PlanList", map[string]any{"plans": []any{planNoComponents}}, false},
		{"operation", "SaaSOperation", op, true},
		{"operation with unknown action", "SaaSOperation", opBadAction, false},
		{"operations", "OperationList", map[string]any{"operations": []any{op}}, true},
		{"webhook with nulls", "WebhookPayload", hook, true},
		{"webhook without purchaseToken", "WebhookPayload", hookNoToken, false},
		{"error", "ErrorResponse", map[string]any{"error": map[string]any{"code": "BadRequest", "message": "m", "target": "planId"}}, true},
		{"activate", "ActivateRequest", map[string]any{"planId": "gold", "quantity": 5}, true},
		{"update quantity", "UpdateRequest", map[string]any{"quantity": 5}, true},
		{"update both", "UpdateRequest", map[string]any{"planId": "gold", "quantity": 5}, false},
		{"update operation", "UpdateOperationRequest", map[string]any{"status": "Failure"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := doc.Components.Schemas[tc.schema]
			if s == nil {
				t.Fatalf("no schema %s", tc.schema)
			}
			// Round-trip through JSON so numbers are float64 as in a real body.
			var v any
			raw, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			err = s.Value.VisitJSON(v, ValidationOptions()...)
			if tc.ok && err != nil {
				t.Fatalf("%s rejected: %v\n%s", tc.schema, err, raw)
			}
			if !tc.ok && err == nil {
				t.Fatalf("%s accepted:\n%s", tc.schema, raw)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	for _, s := range []string{testSubID, strings.ToUpper(testSubID), "00000000-0000-0000-0000-000000000000", "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"} {
		if err := FormatUUID.Validate(s); err != nil {
			t.Errorf("uuid %q rejected: %v", s, err)
		}
	}
	for _, s := range []string{"", "not-a-guid", "{" + testSubID + "}", testSubID + "0", strings.ReplaceAll(testSubID, "-", "")} {
		if FormatUUID.Validate(s) == nil {
			t.Errorf("uuid %q accepted", s)
		}
	}
	for _, s := range []string{"https://marketplaceapi.microsoft.com/api/saas/subscriptions/x/operations/y?api-version=2018-08-31", "http://127.0.0.1:8080/api"} {
		if err := FormatURI.Validate(s); err != nil {
			t.Errorf("uri %q rejected: %v", s, err)
		}
	}
	for _, s := range []string{"", "/api/x", "operations/y", "http://"} {
		if FormatURI.Validate(s) == nil {
			t.Errorf("uri %q accepted", s)
		}
	}
}

// guidRegexp is the definition IsGUID implements by hand.
var guidRegexp = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var guidSamples = []string{
	"", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40", "7E1A3C52-0B8F-4D6E-9A21-5C3F8E2D1B40",
	"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b400",
	"7e1a3c52x0b8f-4d6e-9a21-5c3f8e2d1b40", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4g",
	"{7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40}", "7e1a3c520b8f4d6e9a215c3f8e2d1b40",
	"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4\n", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4é",
	"------------------------------------", "7e1a3c52-0b8f-4d6e-9a215-c3f8e2d1b40",
	"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
}

func TestIsGUIDAgreesWithTheRegexp(t *testing.T) {
	for _, s := range guidSamples {
		if got, want := IsGUID(s), guidRegexp.MatchString(s); got != want {
			t.Errorf("IsGUID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

func FuzzIsGUID(f *testing.F) {
	for _, s := range guidSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsGUID(s), guidRegexp.MatchString(s); got != want {
			t.Fatalf("IsGUID(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}
