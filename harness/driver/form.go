package driver

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Form is an HTML form as a browser would submit it.
type Form struct {
	Action string // absolute URL
	Method string // GET or POST
	Values url.Values
}

// FirstForm finds the first <form> in page and the values a browser would
// submit by pressing its first submit button. base resolves a relative
// action; ok is false when the page has no form.
func FirstForm(page, base string) (f Form, ok bool, err error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return Form{}, false, fmt.Errorf("driver: parsing the landing page: %w", err)
	}
	node := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "form" })
	if node == nil {
		return Form{}, false, nil
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return Form{}, false, fmt.Errorf("driver: page URL %q: %w", base, err)
	}
	action, err := resolve(baseURL, "form action", attr(node, "action"))
	if err != nil {
		return Form{}, false, fmt.Errorf("driver: %w", err)
	}
	f = Form{Action: action.String(), Method: http.MethodPost, Values: url.Values{}}
	if strings.EqualFold(attr(node, "method"), "get") {
		f.Method = http.MethodGet
	}
	submitted := false
	walk(node, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		name := attr(n, "name")
		switch n.Data {
		case "input":
			switch strings.ToLower(attr(n, "type")) {
			case "submit", "image":
				if !submitted && name != "" {
					f.Values.Add(name, attr(n, "value"))
				}
				submitted = true
			case "checkbox", "radio":
				if name != "" && hasAttr(n, "checked") {
					v := attr(n, "value")
					if v == "" {
						v = "on"
					}
					f.Values.Add(name, v)
				}
			case "button", "reset", "file":
			default:
				if name != "" {
					f.Values.Add(name, attr(n, "value"))
				}
			}
		case "button":
			typ := strings.ToLower(attr(n, "type"))
			if (typ == "" || typ == "submit") && !submitted {
				if name != "" {
					f.Values.Add(name, attr(n, "value"))
				}
				submitted = true
			}
		case "textarea":
			if name != "" {
				f.Values.Add(name, text(n))
			}
		case "select":
			if name == "" {
				return
			}
			var first, chosen *html.Node
			walk(n, func(o *html.Node) {
				if o.Type == html.ElementNode && o.Data == "option" {
					if first == nil {
						first = o
					}
					if chosen == nil && hasAttr(o, "selected") {
						chosen = o
					}
				}
			})
			if chosen == nil {
				chosen = first
			}
			if chosen != nil {
				v, ok := attrOK(chosen, "value")
				if !ok {
					v = strings.TrimSpace(text(chosen))
				}
				f.Values.Add(name, v)
			}
		}
	})
	return f, true, nil
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if inert(c) {
			continue
		}
		if got := find(c, match); got != nil {
			return got
		}
	}
	return nil
}

func walk(n *html.Node, fn func(*html.Node)) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if inert(c) {
			continue
		}
		fn(c)
		walk(c, fn)
	}
}

// inert is a <template>: its content is parsed but not part of the page,
// so a browser neither shows nor submits the forms and fields in it.
func inert(n *html.Node) bool {
	return n.Type == html.ElementNode && n.DataAtom == atom.Template
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(n *html.Node, key string) bool {
	_, ok := attrOK(n, key)
	return ok
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}
