package target

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	tparse "text/template/parse"
)

// Templates in a target file fill in values — URLs, a command line, an
// environment — so their cost must follow the file's size. A loop or a
// template calling templates does not ({{range 100000000000}} is hours of
// work), and printf widths multiply output; both are refused.

// maxRendered bounds what one templated value may render to.
const maxRendered = 64 << 10

// templateFix is what to write instead of a refused template.
const templateFix = "templates here only fill in values: {{.PublisherPort}}, a pipe such as {{.PlanID | urlquery}}, or {{if}}/{{with}}"

// errTooLong is a template that rendered past maxRendered.
var errTooLong = fmt.Errorf("renders to more than %d KiB", maxRendered>>10)

// limitError is a template that uses what a target file may not.
type limitError struct{ problem string }

func (e *limitError) Error() string { return e.problem }

// parseTemplate parses text as a target-file template: loops, {{define}},
// {{block}} and {{template}} are a *limitError.
func parseTemplate(name, text string, strict bool) (*template.Template, error) {
	t := template.New(name)
	if strict {
		t = t.Option("missingkey=error")
	}
	t, err := t.Parse(text)
	if err != nil {
		return nil, err
	}
	for _, assoc := range t.Templates() {
		if assoc.Name() != name {
			return nil, &limitError{"{{define}}, {{block}} and {{template}} are not allowed in a target file"}
		}
	}
	if t.Tree == nil {
		return t, nil
	}
	if err := bounded(t.Tree.Root); err != nil {
		return nil, err
	}
	return t, nil
}

// bounded refuses the nodes under n that repeat work.
func bounded(n tparse.Node) error {
	switch n := n.(type) {
	case *tparse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := bounded(c); err != nil {
				return err
			}
		}
	case *tparse.IfNode:
		return errors.Join(bounded(n.List), bounded(n.ElseList))
	case *tparse.WithNode:
		return errors.Join(bounded(n.List), bounded(n.ElseList))
	case *tparse.RangeNode:
		return &limitError{"{{range}} is not allowed in a target file"}
	case *tparse.TemplateNode:
		return &limitError{"{{define}}, {{block}} and {{template}} are not allowed in a target file"}
	}
	return nil
}

// render executes t with data into at most maxRendered bytes.
func render(t *template.Template, data any) (string, error) {
	var w cappedWriter
	if err := t.Execute(&w, data); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// cappedWriter stops a template's execution at maxRendered bytes.
type cappedWriter struct{ b strings.Builder }

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxRendered {
		return 0, errTooLong
	}
	return w.b.Write(p)
}
