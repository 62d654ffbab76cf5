// Command publisher is an example SaaS backend for the Microsoft commercial
// marketplace (SaaS Fulfillment API v2). It is configured by environment
// variables only; see README.md.
//
//	SAAS_TENANT_ID=… SAAS_CLIENT_ID=… SAAS_CLIENT_SECRET=… go run ./examples/publisher
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/saasconform/saasconform/examples/publisher/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
		os.Exit(1)
	}
}

func run() error {
	mistake := flag.String("mistake", "", "turn on one deliberate integration mistake (overrides SAAS_MISTAKE); see -help")
	flag.Usage = usage
	flag.Parse()

	cfg, err := app.ConfigFromEnv(func(k string) string {
		if k == "SAAS_MISTAKE" && *mistake != "" {
			return *mistake
		}
		return os.Getenv(k)
	})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Logger = log

	a, err := app.New(cfg)
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // the admin API waits for operations
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() {
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		log.Info("listening", "url", scheme+"://"+cfg.Listen, "marketplace", cfg.MarketplaceURL, "authority", cfg.AuthorityHost)
		if cfg.TLSCert != "" {
			errc <- srv.ListenAndServeTLS(cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	return nil
}

func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprintf(out, `Usage: publisher [-mistake NAME]

An example SaaS backend for the Microsoft marketplace Fulfillment API v2.

Environment:
  SAAS_LISTEN            host:port to listen on (default %s)
  SAAS_TLS_CERT, SAAS_TLS_KEY   PEM files; both for HTTPS, neither for HTTP
  SAAS_MARKETPLACE_URL   Fulfillment API base incl. /api (default %s)
  SAAS_AUTHORITY_HOST    Entra ID authority host (default %s)
  SAAS_TENANT_ID, SAAS_CLIENT_ID, SAAS_CLIENT_SECRET   the app registration (required)
  SAAS_MISTAKE           one mistake name (or -mistake)
  SAAS_REJECT_PLANS      comma list of planIds a customer may not change to
  SAAS_MAX_SEATS         refuse seat counts above this (0 = no limit)
  SAAS_SLOW_WEBHOOK      delay of the webhook-slow mistake (default %s)
  SAAS_POLL_INTERVAL     Operation-Location poll interval (default %s)
  SAAS_POLL_TIMEOUT      Operation-Location poll timeout (default %s)
  SSL_CERT_FILE          extra CA bundle to trust (read by Go's TLS stack)

Flags:
`, app.DefaultListen, app.DefaultMarketplaceURL, app.DefaultAuthorityHost, app.DefaultSlowWebhook, app.DefaultPollInterval, app.DefaultPollTimeout)
	flag.PrintDefaults()
	fmt.Fprintln(out, "\nMistakes (each breaks one rule on purpose):")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, m := range app.Mistakes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.Name, m.ID, m.Description)
	}
	_ = tw.Flush()
}
