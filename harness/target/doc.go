// Package target describes the publisher under test — where its landing page
// and webhook are, how to start it, how to ask for its own view of a
// subscription — and starts and stops it.
//
// A target file is YAML read strictly: an unknown key, a duration that does
// not parse or a template that names a variable the harness does not provide
// is an error with the file's line and a fix, and every such problem is
// reported at once. Values may be Go templates over Vars (known once per run)
// and SubVars (known per subscription; only in probe and action URLs).
//
// The publisher runs in its own process group, so stopping it also stops
// whatever it spawned (go run, npm start and friends start the real server as
// a child).
package target
