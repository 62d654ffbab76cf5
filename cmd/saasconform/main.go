// Command saasconform runs the SaaS Fulfillment API v2 conformance suites
// against a publisher's app. See `saasconform help`.
package main

import (
	"os"

	"github.com/saasconform/saasconform/cmd/saasconform/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
