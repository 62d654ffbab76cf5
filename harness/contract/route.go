package contract

import (
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// router matches a path below the base to one of the document's operations.
// The API has ten fixed paths, so a segment-by-segment match replaces a
// regexp router (it was a fifth of the validation cost).
type router struct {
	paths []pathTemplate
}

type pathTemplate struct {
	segments []string // "{name}" marks a parameter
	item     *openapi3.PathItem
	path     string
	routes   map[string]*routers.Route // by method
	known    map[string]map[string]bool
}

func newRouter(doc *openapi3.T) *router {
	rt := &router{}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		t := pathTemplate{segments: strings.Split(strings.Trim(p, "/"), "/"), item: item, path: p,
			routes: map[string]*routers.Route{}, known: map[string]map[string]bool{}}
		for method, op := range item.Operations() {
			// kin-openapi's security check would only call noAuth, which
			// accepts anything: the Authenticator has decided already, on
			// every call. The route carries a copy of the operation without
			// security requirements, so that no-op (which also read and
			// re-wrapped the body) is skipped; nothing else differs.
			check := *op
			check.Security = &openapi3.SecurityRequirements{}
			t.routes[method] = &routers.Route{Spec: doc, Path: p, PathItem: item, Method: method, Operation: &check}
			t.known[method] = bodyProperties(op)
		}
		rt.paths = append(rt.paths, t)
	}
	return rt
}

// find returns the route, its path parameters and the body fields the
// operation knows; route is nil when nothing matches (or the method is not
// one the path has).
func (rt *router) find(method, rel string) (*routers.Route, map[string]string, map[string]bool) {
	if rel == "/saas/subscriptions/" {
		// Microsoft's own document spells the collection with a trailing
		// slash; both reach the same operation.
		rel = "/saas/subscriptions"
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	if strings.HasSuffix(rel, "/") && rel != "/" {
		return nil, nil, nil
	}
	for _, t := range rt.paths {
		if len(t.segments) != len(segs) {
			continue
		}
		params, ok := t.match(segs)
		if !ok {
			continue
		}
		route := t.routes[strings.ToUpper(method)]
		if route == nil {
			continue
		}
		return route, params, t.known[strings.ToUpper(method)]
	}
	return nil, nil, nil
}

// methods returns the methods the document has at rel, each with its
// operationId, in a fixed order (GET, POST, PUT, PATCH, DELETE): what a
// request whose method missed should have used. Empty when no path
// matches.
func (rt *router) methods(rel string) [][2]string {
	if rel == "/saas/subscriptions/" {
		rel = "/saas/subscriptions"
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	var out [][2]string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, t := range rt.paths {
			if len(t.segments) != len(segs) {
				continue
			}
			if _, ok := t.match(segs); !ok {
				continue
			}
			if route := t.routes[m]; route != nil {
				out = append(out, [2]string{m, route.Operation.OperationID})
				break
			}
		}
	}
	return out
}

func (t pathTemplate) match(segs []string) (map[string]string, bool) {
	var params map[string]string
	for i, s := range t.segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// probeRequest is r with its path replaced by rel, for kin-openapi, which
// reads parameters from the request. A shallow copy: nothing is modified
// but the URL.
func probeRequest(r *http.Request, rel string) *http.Request {
	p := *r
	u := *r.URL
	u.Path, u.RawPath = rel, ""
	p.URL = &u
	return &p
}
