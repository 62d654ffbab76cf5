// Package hostile proves the harness against publishers that misbehave at
// the transport and process level (fixtures/apps/hostile-publisher): its
// test runs the saasconform command against each misbehaviour and checks
// that the run ends in bounded time with the right exit code, writes every
// report in a form a parser accepts, and leaves no process and no port
// behind.
//
//	go test -v ./hostile/
package hostile
