package identity

import (
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadOptions(t *testing.T) {
	good := App{Name: "a", TenantID: "e8728853-f85e-47e5-9e8e-55b5e37c3b94", ClientID: "7cf2c6dc-2190-468e-9dab-771cd7511a35", Secret: "s"}
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"nil option", nil, "nil Option"},
		{"nil clock", WithClock(nil), "WithClock"},
		{"zero lifetime", WithTokenLifetime(0), "WithTokenLifetime"},
		{"negative lifetime", WithTokenLifetime(-time.Minute), "WithTokenLifetime"},
		{"sub-second lifetime", WithTokenLifetime(500 * time.Millisecond), "WithTokenLifetime"},
		{"unknown issuer style", WithIssuerStyle(IssuerStyle(7)), "WithIssuerStyle"},
		{"empty URL", WithURL(""), "WithURL"},
		{"relative URL", WithURL("127.0.0.1:1234"), "WithURL"},
		{"ftp URL", WithURL("ftp://127.0.0.1"), "WithURL"},
		{"URL with path", WithURL("https://127.0.0.1:1234/entra"), "path"},
		{"URL with query", WithURL("https://127.0.0.1:1234?x=1"), "WithURL"},
		{"URL without host", WithURL("https://"), "WithURL"},
		{"1024-bit keys", WithKeyBits(1024), "WithKeyBits"},
		{"huge keys", WithKeyBits(16384), "WithKeyBits"},
		{"no apps", WithApps(), "WithApps"},
		{"invalid app", WithApps(App{Name: "bad", TenantID: "x", ClientID: good.ClientID, Secret: "s"}), "tenantId"},
		{"duplicate apps", WithApps(good, good), "already registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, err := New(tc.opt)
			if err == nil || i != nil {
				t.Fatalf("New = %v, %v; want an error", i, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestOptionsApply(t *testing.T) {
	app := App{Name: "only", TenantID: "e8728853-f85e-47e5-9e8e-55b5e37c3b94", ClientID: "7cf2c6dc-2190-468e-9dab-771cd7511a35", Secret: "s", PublisherID: "p"}
	i, clk := newTestIssuer(t, WithApps(app), WithURL("https://127.0.0.1:8443/"), WithTokenLifetime(5*time.Minute), WithKeyBits(2048))
	if i.URL() != "https://127.0.0.1:8443" {
		t.Errorf("URL = %q", i.URL())
	}
	if i.Clock() != clk {
		t.Error("Clock is not the injected one")
	}
	if got := i.Apps(); len(got) != 1 || got[0].Name != "only" {
		t.Errorf("Apps = %v, want only the WithApps app", got)
	}
	if n := i.CurrentKey().Private.N.BitLen(); n != 2048 {
		t.Errorf("key size %d", n)
	}
	_, exp, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil || !exp.Equal(testStart.Add(5*time.Minute)) {
		t.Errorf("AccessToken expires %v (%v), want lifetime 5m", exp, err)
	}
	if err := i.SetURL("not a url"); err == nil {
		t.Error("SetURL accepted garbage")
	}
	if i.URL() != "https://127.0.0.1:8443" {
		t.Errorf("a failed SetURL changed URL to %q", i.URL())
	}
}
