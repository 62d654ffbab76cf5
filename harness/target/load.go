package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// exampleHint is the fix for a missing or empty file: there is no generator,
// the examples are the documentation.
const exampleHint = "copy an example from fixtures/targets/ (already-running.yaml is the smallest; reference-publisher.yaml starts the example app) and edit it"

// Load reads, decodes and validates the target file at path. Relative paths
// inside it (start.dir, marketplace.offers, reports.dir) are relative to the
// file's folder; Load also checks that marketplace.offers exists. On failure the error is an Errors listing every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Errors{{Source: path, Problem: "no such file", Fix: exampleHint}}
	}
	if err != nil {
		return nil, Errors{{Source: path, Problem: err.Error()}}
	}
	return parse(data, path, true)
}

// Parse decodes and validates a target file held in memory; source names it
// in errors and its folder anchors relative paths. Unlike Load it does not
// look at the file system.
func Parse(data []byte, source string) (*Config, error) { return parse(data, source, false) }

func parse(data []byte, source string, checkFiles bool) (*Config, error) {
	k := &checker{source: source, failed: map[string]bool{}}

	docs := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := docs.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{k.syntax(err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{{Source: source, Problem: "the file is empty", Fix: exampleHint}}
	}
	k.ix = newIndex(&root)
	k.oneDocument(docs)

	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Errors{k.syntax(err)}
		}
		for _, msg := range te.Errors {
			k.decodeProblem(msg)
		}
	}
	c.Source = source
	c.Dir = "."
	if source != "" {
		c.Dir = filepath.Dir(source)
	}
	applyDefaults(&c, k.ix.has)
	k.validate(&c)
	if checkFiles {
		k.files(&c)
	}
	if len(k.errs) > 0 {
		return nil, k.errs.sorted()
	}
	return &c, nil
}

// oneDocument refuses what follows the first document: yaml.v3 decodes
// only the first, so a second "---" would silently drop everything after it.
func (k *checker) oneDocument(docs *yaml.Decoder) {
	var next yaml.Node
	err := docs.Decode(&next)
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		k.errs = append(k.errs, k.syntax(err))
	default:
		k.errs = append(k.errs, &Error{Source: k.source, Line: next.Line,
			Problem: `a second YAML document starts here ("---"); a target file is one document and the harness would ignore this one`,
			Fix:     `remove this "---" and what follows it, or merge what follows into the first document`})
	}
}

// index remembers where each dotted path was written, so problems found in
// the decoded struct can point at their line.
type index struct {
	keys   map[string]*yaml.Node // path → the key node (nil for list elements)
	values map[string]*yaml.Node // path → the value node
}

func newIndex(doc *yaml.Node) *index {
	ix := &index{keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		ix.walk("", nil, doc.Content[0])
	}
	return ix
}

func (ix *index) walk(path string, key, n *yaml.Node) {
	if _, dup := ix.values[path]; !dup { // the first of duplicate keys is the one reported as "first at"
		ix.keys[path], ix.values[path] = key, n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			ix.walk(join(path, n.Content[i].Value), n.Content[i], n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			ix.walk(path+"["+strconv.Itoa(i)+"]", nil, e)
		}
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// has reports whether path was written in the file.
func (ix *index) has(path string) bool { _, ok := ix.values[path]; return ok }

// line is where path was written or, when it was left out, where its
// nearest written parent is; 0 when nothing on the way was written.
func (ix *index) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if k := ix.keys[p]; k != nil {
			return k.Line
		}
		if v := ix.values[p]; v != nil {
			return v.Line
		}
	}
	return 0
}

// parent drops the last element of a dotted path: a.b[2] → a.b, a.b → a.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

var (
	lineRE      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE   = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	mismatchRE  = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	duplicateRE = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
)

// syntax turns a YAML parse error into an Error with its line.
func (k *checker) syntax(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Source: k.source, Problem: "not valid YAML: " + msg,
		Fix: `check indentation, and quote values that contain ": " or start with "{{", "*" or "&"`}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = "not valid YAML: " + m[2]
	}
	return e
}

// decodeProblem turns one of yaml.v3's strict-decoding messages into an
// Error at the right path.
func (k *checker) decodeProblem(msg string) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		k.errs = append(k.errs, &Error{Source: k.source, Problem: msg})
		return
	}
	line, _ := strconv.Atoi(m[1])
	body := m[2]
	e := &Error{Source: k.source, Line: line, Problem: body}
	switch {
	case unknownRE.MatchString(body):
		u := unknownRE.FindStringSubmatch(body)
		e.Field = k.pathOfKey(u[1], line)
		e.Problem = "unknown field"
		known := yamlKeys(configTypes[u[2]])
		if e.Fix = didYouMean(u[1], known); e.Fix == "" && len(known) > 0 {
			e.Fix = "the fields here are " + strings.Join(known, ", ")
		}
	case mismatchRE.MatchString(body):
		u := mismatchRE.FindStringSubmatch(body)
		e.Field = k.pathOfValue(line, u[1], u[2])
		e.Problem, e.Fix = mismatch(u[1], u[2], u[3])
		if e.Field == "" && u[3] == "target.Config" {
			e.Fix = "a target file is a mapping: publisher:, identity:, marketplace:, capabilities:, timeouts:, reports:"
			k.failed[""] = true // nothing decoded; "required" would be noise
		}
	case duplicateRE.MatchString(body):
		u := duplicateRE.FindStringSubmatch(body)
		// The index keeps the first occurrence; the path is the same.
		e.Field = k.pathOfKey(u[1], mustAtoi(u[2]))
		e.Problem = "set twice (first at line " + u[2] + ")"
		e.Fix = "keep one"
		// yaml.v3 then skips the whole mapping: what is "missing" in it
		// is not.
		k.failed[parent(e.Field)] = true
	}
	if e.Field != "" {
		k.failed[e.Field] = true
	}
	k.errs = append(k.errs, e)
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// mismatch explains a value of the wrong kind, by the Go type it was meant for.
func mismatch(tag, value, into string) (problem, fix string) {
	got := map[string]string{"!!map": "a mapping", "!!seq": "a list", "!!str": "text", "!!int": "a number",
		"!!float": "a number", "!!bool": "true/false", "!!null": "empty"}[tag]
	if got == "" {
		got = tag
	}
	if value != "" {
		got += " (" + value + ")"
	}
	switch {
	case into == "time.Duration":
		return "not a duration: " + got, "write a Go duration such as 500ms, 10s, 1m30s or 1h (a unit is required)"
	case into == "int" || into == "int64":
		return "not a whole number: " + got, "write a number such as 50"
	case into == "bool":
		return "not true or false: " + got, "write true or false"
	case into == "string" || into == "target.Capability":
		if tag == "!!map" {
			// {{.X}} unquoted is YAML's flow-mapping syntax.
			return "expected text, got a mapping", `quote templates: "{{.MarketplaceURL}}"`
		}
		return "expected text, got " + got, "write a single value"
	case strings.HasPrefix(into, "[]"):
		return "expected a list, got " + got, "write a list such as [a, b] or one \"- item\" a line"
	case strings.HasPrefix(into, "map["):
		return "expected a mapping, got " + got, "write NAME: value pairs"
	default:
		return "expected a mapping, got " + got, "write the fields as key: value lines indented under it"
	}
}

// pathOfKey finds the path whose key named name is written at line.
func (k *checker) pathOfKey(name string, line int) string {
	for p, key := range k.ix.keys {
		if key != nil && key.Value == name && key.Line == line {
			return p
		}
	}
	return name
}

// pathOfValue finds the path whose value of kind tag starts at line and
// begins with value (yaml.v3 shortens long values to seven characters and
// "...").
func (k *checker) pathOfValue(line int, tag, value string) string {
	kind := map[string]yaml.Kind{"!!map": yaml.MappingNode, "!!seq": yaml.SequenceNode}[tag]
	if kind == 0 {
		kind = yaml.ScalarNode
	}
	prefix := strings.TrimSuffix(value, "...")
	best := ""
	found := false
	for p, v := range k.ix.values {
		if v.Line != line || v.Kind != kind || !strings.HasPrefix(v.Value, prefix) {
			continue
		}
		// Prefer the deepest match: in "env: {A: {x: y}}" it is A that
		// should have been text, not env.
		if !found || len(p) > len(best) {
			best, found = p, true
		}
	}
	return best
}

// configTypes are the decoded structs by the name yaml.v3 gives them in
// messages, so an unknown key can be matched against its siblings.
var configTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, v := range []any{Config{}, Publisher{}, Landing{}, StartSpec{}, Probe{}, ProbeFields{}, Actions{}, Action{},
		Rejects{}, Identity{}, Marketplace{}, Timeouts{}, Reports{}} {
		t := reflect.TypeOf(v)
		m[t.String()] = t
	}
	return m
}()

// yamlKeys lists the keys a struct type accepts.
func yamlKeys(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// files checks that the offers file exists. start.dir is left to Start:
// the app's folder may be created between writing the file and running it,
// and a run without start never needs it.
func (k *checker) files(c *Config) {
	if c.Marketplace.Offers != "" {
		if _, err := os.Stat(c.OffersPath()); err != nil {
			k.add("marketplace.offers", fmt.Sprintf("no file %s", c.OffersPath()),
				"offers is relative to the target file's folder; leave it out to use the built-in fixtures")
		}
	}
}
