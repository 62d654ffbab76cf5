package driver

import (
	"fmt"
	"strconv"
	"strings"
)

// lookup reads a value from decoded JSON by a path of the form $.a.b[0].c —
// the small subset of JSONPath a probe's field mapping needs.
func lookup(doc any, path string) (any, error) {
	rest, ok := strings.CutPrefix(path, "$")
	if !ok {
		return nil, fmt.Errorf("path %q must start with $", path)
	}
	cur := doc
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key := rest[:end]
			rest = rest[end:]
			if key == "" {
				return nil, fmt.Errorf("path %q has an empty name", path)
			}
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%q: not an object before .%s", path, key)
			}
			if cur, ok = obj[key]; !ok {
				if rest == "" {
					return nil, &absentError{path: path, key: key}
				}
				return nil, fmt.Errorf("%q: no field %q", path, key)
			}
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q has an unclosed [", path)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 {
				return nil, fmt.Errorf("path %q: index %q is not a whole number", path, rest[1:end])
			}
			rest = rest[end+1:]
			arr, ok := cur.([]any)
			if !ok || i >= len(arr) {
				return nil, fmt.Errorf("%q: no element %d", path, i)
			}
			cur = arr[i]
		default:
			return nil, fmt.Errorf("path %q: expected . or [ at %q", path, rest)
		}
	}
	return cur, nil
}

// absentError is a path whose last name is missing from an object that is
// there: the app left the field out, which for an optional field (seats on
// a flat plan) means "none" rather than a broken path.
type absentError struct{ path, key string }

func (e *absentError) Error() string { return fmt.Sprintf("%q: no field %q", e.path, e.key) }
