package main_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/suites"
)

// TestMarketplaceConformance is what a Go publisher adds to its own
// repository: the saasconform suites run against the app in-process.
func TestMarketplaceConformance(t *testing.T) {
	cfg, err := target.Load("saasconform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	suites.Run(t, suites.Config{Target: cfg, InProcess: &suites.InProcess{
		Start: func(v target.Vars, client *http.Client) (http.Handler, func(), error) {
			a, err := app.New(app.Config{
				MarketplaceURL: v.MarketplaceURL, AuthorityHost: v.AuthorityURL,
				TenantID: v.TenantID, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
				RejectPlans: cfg.Publisher.Rejects.Plans, MaxSeats: cfg.Publisher.Rejects.MaxSeats,
				HTTPClient: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				return nil, nil, err
			}
			return a.Handler(), a.Close, nil
		},
	}})
}
