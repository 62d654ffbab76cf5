// Package profile names how faithful to the documents the fake Microsoft
// is: strict (what the docs promise, the default) or production (what the
// real service is reported to do, spec/README.md "The production profile").
package profile

import (
	"fmt"
	"strings"
)

// Profile is one way for the fakes to answer.
type Profile string

// The profiles.
const (
	// Strict answers as Microsoft's documents say (the default).
	Strict Profile = "strict"
	// Production answers as the real service is reported to: 401 for a
	// bad token, bare-string and flat error bodies, 400 "locked" for an
	// overlapping change, an empty operations list, an Operation-Id header,
	// and transient 5xx/429 answers to GETs.
	Production Profile = "production"
)

// All lists the profiles, default first.
func All() []Profile { return []Profile{Strict, Production} }

// Parse returns the profile named s; "" is Strict.
func Parse(s string) (Profile, error) {
	switch p := Profile(strings.TrimSpace(s)); p {
	case "":
		return Strict, nil
	case Strict, Production:
		return p, nil
	}
	return "", fmt.Errorf("unknown profile %q: want %s or %s", s, Strict, Production)
}

// OrStrict is p, or Strict when p is empty.
func (p Profile) OrStrict() Profile {
	if p == "" {
		return Strict
	}
	return p
}

// IsProduction reports whether p is Production.
func (p Profile) IsProduction() bool { return p == Production }
