package identity

import (
	"strings"
	"testing"

	"github.com/saasconform/saasconform/fixtures"
)

func TestFixtureApps(t *testing.T) {
	apps, err := LoadApps(fixtures.Apps)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) < 3 {
		t.Fatalf("%d fixture apps, want at least contoso, fabrikam and an app owning no offer", len(apps))
	}
	tenants := map[string]bool{}
	for _, a := range apps {
		tenants[a.TenantID] = true
		for _, real := range []string{MarketplaceAppID, LegacyMarketplaceAppID} {
			if strings.EqualFold(a.ClientID, real) || strings.EqualFold(a.TenantID, real) {
				t.Errorf("fixture app %s uses the Microsoft id %s", a.Name, real)
			}
		}
	}
	if len(tenants) < 2 {
		t.Error("fixture apps all live in one tenant")
	}
	i, _ := newTestIssuer(t)
	if a, ok := i.AppByPublisher("Contoso"); !ok || a.PublisherID != "contoso" {
		t.Errorf("AppByPublisher(Contoso) = %+v, %v", a, ok)
	}
	if _, ok := i.AppByPublisher(""); ok {
		t.Error("AppByPublisher(\"\") found an app")
	}
	if _, ok := i.AppByPublisher("nobody"); ok {
		t.Error("AppByPublisher(nobody) found an app")
	}
	if got := i.Apps(); len(got) != len(apps) || got[0].Name != apps[0].Name {
		t.Errorf("Apps() = %v, want the fixture order", got)
	}
}

func TestLoadAppsErrors(t *testing.T) {
	const (
		tid = "e8728853-f85e-47e5-9e8e-55b5e37c3b94"
		cid = "7cf2c6dc-2190-468e-9dab-771cd7511a35"
	)
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"empty document", "", []string{"empty document"}},
		{"no apps", "apps: []\n", []string{"no apps"}},
		{"unknown top-level key", "tenants: []\n", []string{"line 1", "tenants"}},
		{"unknown app key", "apps:\n  - name: a\n    tenantId: " + tid + "\n    clientId: " + cid + "\n    secret: s\n    tenant: x\n",
			[]string{"line 6", "tenant"}},
		{"tenant not a GUID", "apps:\n  - name: a\n    tenantId: contoso.onmicrosoft.com\n    clientId: " + cid + "\n    secret: s\n",
			[]string{"line 3", "apps[0].tenantId", "not a GUID"}},
		{"client id in braces", "apps:\n  - name: a\n    tenantId: " + tid + "\n    clientId: \"{" + cid + "}\"\n    secret: s\n",
			[]string{"line 4", "apps[0].clientId"}},
		{"empty secret", "apps:\n  - name: a\n    tenantId: " + tid + "\n    clientId: " + cid + "\n    secret: \"  \"\n",
			[]string{"line 5", "apps[0].secret", "empty"}},
		{"missing secret", "apps:\n  - name: a\n    tenantId: " + tid + "\n    clientId: " + cid + "\n",
			[]string{"line 2", "apps[0].secret"}},
		{"duplicate client id", "apps:\n  - {name: a, tenantId: " + tid + ", clientId: " + cid + ", secret: s}\n  - {name: b, tenantId: " + tid + ", clientId: " + strings.ToUpper(cid) + ", secret: t}\n",
			[]string{"line 3", "apps[1].clientId", "apps[0]"}},
		{"wrong type", "apps: {name: a}\n", []string{"line 1"}},
		{"not YAML", "apps: [\n", []string{"line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadApps([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	i, _ := newTestIssuer(t)
	a := App{Name: "new", TenantID: "B3738F10-C02B-4909-A1B4-C91784F8CC43", ClientID: "0A6D6E0B-1C0F-4E43-9F66-5A0D7E1B2C3D", Secret: "s", PublisherID: "adatum"}
	if err := i.Register(a); err != nil {
		t.Fatal(err)
	}
	got, ok := i.App(strings.ToLower(a.ClientID))
	if !ok || got.ClientID != strings.ToLower(a.ClientID) || got.TenantID != strings.ToLower(a.TenantID) {
		t.Errorf("App = %+v, %v; want lower-case ids", got, ok)
	}
	if !i.knownTenant(a.TenantID) {
		t.Error("the new app's tenant is unknown")
	}
	if err := i.Register(a); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second Register: %v", err)
	}
	for _, bad := range []App{
		{Name: "no tenant", ClientID: "9c2d0e4f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", Secret: "s"},
		{Name: "bad client", TenantID: a.TenantID, ClientID: "x", Secret: "s"},
		{Name: "no secret", TenantID: a.TenantID, ClientID: "9c2d0e4f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"},
	} {
		if err := i.Register(bad); err == nil {
			t.Errorf("Register(%s) succeeded", bad.Name)
		}
	}
}
