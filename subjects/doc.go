// Package subjects proves the harness on publishers written apart from
// the reference one, the way ISVs write them (fixtures/apps: Go, Python,
// Node.js): each correct app passes with no violation, and each broken
// variant is reported by its one root cause. Its test runs the built
// saasconform command against them; it is a package of its own so that
// `go test ./...` runs it beside the mutant matrix.
//
//	go test -v -run TestIndependentSubjects ./subjects/
package subjects
