package contract

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// APIVersion is the only Fulfillment API version the fake serves.
const APIVersion = "2018-08-31"

// The id headers' canonical keys: Header.Get with a key already canonical
// does not allocate a canonical copy on every call.
const (
	keyRequestID        = "X-Ms-Requestid"
	keyCorrelationID    = "X-Ms-Correlationid"
	keyMarketplaceToken = "X-Ms-Marketplace-Token"
)

// finding is a violation plus whether it stops the request before it reaches
// the fake, and with what status.
type finding struct {
	v      violation.Violation
	status int // 0: the request goes on
}

// checkVersion looks for v1 calls and a missing or wrong api-version. rel is
// the path below the base path, query the request's parsed query.
func checkVersion(r *http.Request, rel string, query url.Values) []finding {
	var out []finding
	if why := v1Shape(r, rel); why != "" {
		out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleV1, Summary: "v1 Fulfillment API call: " + why,
			Got: r.Method + " " + rel, Want: "a Fulfillment API v2 call with api-version=" + APIVersion,
			Fix: "move to the v2 API (resolve, then POST …/activate); v1 is retired",
		}})
		return out
	}
	versions := query["api-version"]
	switch {
	case len(versions) == 0:
		out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleAPIVersion, Summary: "api-version query parameter missing", Field: "query.api-version",
			Want: APIVersion, Fix: "append ?api-version=" + APIVersion + " to every marketplace call",
		}})
	case len(versions) > 1:
		out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleAPIVersion, Summary: "api-version given more than once", Field: "query.api-version",
			Got: strings.Join(versions, ","), Want: APIVersion, Fix: "send api-version once",
		}})
	case strings.HasPrefix(versions[0], "2017-"):
		out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleV1, Summary: "v1 api-version", Field: "query.api-version",
			Got: versions[0], Want: APIVersion, Fix: "use the v2 API with api-version=" + APIVersion,
		}})
	case versions[0] != APIVersion:
		out = append(out, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleAPIVersion, Summary: "unknown api-version", Field: "query.api-version",
			Got: versions[0], Want: APIVersion, Fix: "send api-version=" + APIVersion,
		}})
	}
	return out
}

// v1Shape names the v1 pattern a request follows, or returns "".
func v1Shape(r *http.Request, rel string) string {
	switch {
	case strings.HasPrefix(rel, "/saas/operations"):
		return "the v1 operations path /saas/operations"
	case r.Method == http.MethodPut && strings.HasPrefix(rel, "/saas/subscriptions/"):
		return "PUT /saas/subscriptions/{id} is how v1 activated a subscription"
	case r.Header.Get(keyMarketplaceToken) != "" && !strings.HasSuffix(strings.TrimSuffix(rel, "/"), "/resolve"):
		return "x-ms-marketplace-token sent on a call other than resolve (v1 activation did this)"
	}
	return ""
}

// checkHygiene looks at what should be on every call but does not stop it.
func checkHygiene(r *http.Request) []finding {
	var out []finding
	if o := r.Header.Get("Origin"); o != "" {
		out = append(out, finding{v: violation.Violation{
			Rule: RuleBackendOnly, Summary: "marketplace API called with an Origin header, as a browser does",
			Field: "header.Origin", Got: o, Want: "no Origin (a server-to-server call)",
			Fix: "call the Fulfillment API from your backend, never from the landing page's JavaScript",
		}})
	}
	for _, hk := range [...][2]string{{"x-ms-requestid", keyRequestID}, {"x-ms-correlationid", keyCorrelationID}} {
		h, val := hk[0], r.Header.Get(hk[1])
		switch {
		case val == "":
			out = append(out, finding{v: violation.Violation{
				Rule: RuleRequestIDs, Severity: violation.Warning, Summary: h + " header missing",
				Field: "header." + h, Want: "a GUID", Fix: "send a fresh GUID in " + h + " so calls can be traced with Microsoft support",
			}})
		case !spec.IsGUID(val):
			out = append(out, finding{v: violation.Violation{
				Rule: RuleRequestIDs, Severity: violation.Warning, Summary: h + " is not a GUID",
				Field: "header." + h, Got: val, Want: "a GUID", Fix: "send a GUID (e.g. uuid.NewString()) in " + h,
			}})
		}
	}
	return out
}

// wrongMethod is the finding for a path the API has, called with a method
// it does not take there: the fix names the method(s) it does take.
func wrongMethod(r *http.Request, rel string, allowed [][2]string) finding {
	var names, ops, writes []string
	for _, a := range allowed {
		names, ops = append(names, a[0]), append(ops, a[0]+" "+a[1])
		if a[0] != http.MethodGet {
			writes = append(writes, a[0])
		}
	}
	takes := "takes only " + names[0]
	if len(names) > 1 {
		takes = "takes " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	fix := "use " + strings.Join(names, " or ")
	if r.Method != http.MethodGet && r.Method != http.MethodHead && len(writes) == 1 {
		fix = "use " + writes[0] // a write meant the one write the path has
	}
	return finding{status: http.StatusNotFound, v: violation.Violation{
		Rule: RuleSchema, Summary: fmt.Sprintf("this Fulfillment API v2 path %s, not %s", takes, r.Method),
		Field: "method", Got: r.Method + " " + rel, Want: strings.Join(ops, ", "),
		Fix: fmt.Sprintf("this path %s, not %s — %s (see spec/fulfillment-v2.yaml)", takes, r.Method, fix),
	}}
}

func unknownPath(r *http.Request, rel string, underBase bool, base string) finding {
	fix := "call one of the ten Fulfillment API v2 operations (see spec/fulfillment-v2.yaml)"
	if !underBase {
		fix = fmt.Sprintf("the API lives under %s: use <marketplace base>%s/saas/…", base, base)
	}
	return finding{status: http.StatusNotFound, v: violation.Violation{
		Rule: RuleSchema, Summary: "no Fulfillment API v2 operation at this method and path",
		Got: r.Method + " " + rel, Fix: fix,
	}}
}
