package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// validateRequest checks parameters and body against the matched operation.
// Unknown body fields are warned about and stripped before validation, as
// the real API ignores them; everything else that breaks the schema stops
// the request with 400.
//
// query is the request's parsed query (checkVersion parsed it already); nil
// lets kin-openapi parse it.
func (v *Validator) validateRequest(probe *http.Request, route *routers.Route, params map[string]string, known map[string]bool, body []byte, query url.Values) []finding {
	op := route.Operation.OperationID
	var out []finding
	checked := body
	if known != nil && len(body) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil && obj != nil {
			var unknown []string
			for k := range obj {
				if !known[k] {
					unknown = append(unknown, k)
				}
			}
			sort.Strings(unknown)
			for _, k := range unknown {
				delete(obj, k)
				out = append(out, finding{v: violation.Violation{
					Rule: RuleSchema, Severity: violation.Warning, Summary: "unknown field in request body (Microsoft ignores it)",
					Field: "body." + k, Got: truncate(string(bodyValue(body, k)), 80), Want: "only " + keys(known),
					Fix: "drop the field, or check its spelling against the API reference",
				}})
			}
			if len(unknown) > 0 {
				checked, _ = json.Marshal(obj)
			}
			if op == spec.OpUpdateSubscription {
				_, plan := obj["planId"]
				_, qty := obj["quantity"]
				if plan == qty {
					return append(out, patchShape(plan))
				}
			}
		}
	}

	probe.Body = nopBody(checked)
	probe.ContentLength = int64(len(checked))
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, QueryParams: query, Route: route, Options: noAuth}
	err := openapi3filter.ValidateRequest(probe.Context(), in)
	if err == nil {
		return out
	}
	for _, e := range topLevel(err) {
		out = append(out, classify(op, e)...)
	}
	return out
}

func patchShape(both bool) finding {
	f := finding{status: http.StatusBadRequest, v: violation.Violation{
		Rule: RuleUpdateBody, Field: "body", Want: `either {"planId":…} or {"quantity":…}`,
	}}
	if both {
		f.v.Summary = "PATCH subscription carries planId and quantity together"
		f.v.Got = "planId and quantity"
		f.v.Fix = "change the plan and the quantity in two PATCH calls, the second after the first operation completes"
	} else {
		f.v.Summary = "PATCH subscription carries neither planId nor quantity"
		f.v.Got = "neither"
		f.v.Fix = "send the new planId or the new quantity"
	}
	return f
}

// classify turns one kin-openapi error into findings, one per schema
// problem; errors another check already reported give none.
func classify(op string, err error) []finding {
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		if p := reqErr.Parameter; p != nil {
			switch strings.ToLower(p.Name) {
			case "api-version", "x-ms-requestid", "x-ms-correlationid":
				return nil // checkVersion and checkHygiene said it better
			case "x-ms-marketplace-token":
				return []finding{{status: http.StatusBadRequest, v: violation.Violation{
					Rule: RuleResolveToken, Summary: "resolve called without the purchase token",
					Field: "header.x-ms-marketplace-token", Want: "the token from the landing page's ?token=, URL-decoded once",
					Fix: "send the token the landing page received in the x-ms-marketplace-token header",
				}}}
			}
			var out []finding
			for _, se := range schemaErrors(reqErr) {
				_, got, want := schemaDetail(se)
				out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
					Rule: RuleSchema, Summary: fmt.Sprintf("%s parameter %q is invalid: %s", p.In, p.Name, reasonOf(se)),
					Field: p.In + "." + p.Name, Got: got, Want: want, Fix: "send the parameter as the API reference describes it",
				}})
			}
			return out
		}
		if reqErr.RequestBody != nil {
			var out []finding
			for _, se := range schemaErrors(reqErr) {
				field, got, want := schemaDetail(se)
				out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
					Rule: bodyRule(op), Summary: "request body is invalid: " + reasonOf(se),
					Field: "body" + field, Got: got, Want: want, Fix: bodyFix(op),
				}})
			}
			return out
		}
	}
	var secErr *openapi3filter.SecurityRequirementsError
	if errors.As(err, &secErr) {
		return nil // the Authenticator decides
	}
	return []finding{{status: http.StatusBadRequest, v: violation.Violation{
		Rule: RuleSchema, Summary: "request does not match the operation: " + firstLine(err.Error()),
		Fix: "compare the call with the API reference",
	}}}
}

func bodyRule(op string) string {
	switch op {
	case spec.OpActivate:
		return RuleActivateBody
	case spec.OpUpdateSubscription:
		return RuleUpdateBody
	case spec.OpUpdateOperation:
		return RuleOperation
	}
	return RuleSchema
}

func bodyFix(op string) string {
	switch op {
	case spec.OpActivate:
		return `send {"planId": <plan from resolve>, "quantity": <seats, per-seat plans only>}`
	case spec.OpUpdateSubscription:
		return `send {"planId": …} or {"quantity": …}`
	case spec.OpUpdateOperation:
		return `send {"status": "Success"} or {"status": "Failure"}`
	}
	return "send a JSON body as the API reference describes it"
}

// schemaErrors lists the separate problems inside a request error: each
// schema error of a multi-error, or the error itself.
func schemaErrors(e *openapi3filter.RequestError) []error {
	var me openapi3.MultiError
	if errors.As(e.Err, &me) {
		var out []error
		for _, x := range topLevel(me) {
			out = append(out, x)
		}
		return out
	}
	if e.Err != nil {
		return []error{e.Err}
	}
	return []error{errors.New(e.Reason)}
}

// reasonOf is an error's readable reason, without kin-openapi's schema dump.
func reasonOf(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		if se.Reason != "" {
			return se.Reason
		}
		if se.Origin != nil {
			return firstLine(se.Origin.Error())
		}
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// schemaDetail finds the JSON path, the offending value and the expectation
// inside a schema error.
func schemaDetail(err error) (field, got, want string) {
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return "", "", ""
	}
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		field = "." + strings.Join(ptr, ".")
	}
	if se.Value != nil {
		if b, e := json.Marshal(se.Value); e == nil {
			got = truncate(string(b), 80)
		}
	}
	if s := se.Schema; s != nil {
		switch {
		case len(s.Enum) > 0:
			b, _ := json.Marshal(s.Enum)
			want = "one of " + string(b)
		case s.Type != nil && len(s.Type.Slice()) > 0:
			want = strings.Join(s.Type.Slice(), "|")
			if s.Format != "" {
				want += " (" + s.Format + ")"
			}
		}
	}
	return field, got, want
}

// topLevel opens a multi-error (and multi-errors nested directly in it) but
// not errors that merely wrap one, so a RequestError keeps its context.
func topLevel(err error) []error {
	me, ok := err.(openapi3.MultiError)
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range me {
		out = append(out, topLevel(e)...)
	}
	return out
}

// bodyProperties lists the field names an operation's JSON body may carry,
// across oneOf/anyOf/allOf branches; nil when it takes no object body.
func bodyProperties(op *openapi3.Operation) map[string]bool {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	known := map[string]bool{}
	var walk func(s *openapi3.Schema)
	walk = func(s *openapi3.Schema) {
		for k := range s.Properties {
			known[k] = true
		}
		for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, ref := range group {
				if ref != nil && ref.Value != nil {
					walk(ref.Value)
				}
			}
		}
	}
	walk(mt.Schema.Value)
	if len(known) == 0 {
		return nil
	}
	return known
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func bodyValue(body []byte, key string) json.RawMessage {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(body, &obj)
	return obj[key]
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func nopBody(b []byte) readCloser { return readCloser{bytes.NewReader(b)} }
