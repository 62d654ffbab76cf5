package identity

import (
	"strings"
	"testing"
)

func TestExportedKeysSurviveARestart(t *testing.T) {
	app := App{Name: "p", TenantID: "11111111-1111-1111-1111-111111111111", ClientID: "22222222-2222-2222-2222-222222222222", Secret: "s", PublisherID: "contoso"}
	a, err := New(WithApps(app), WithURL("https://login.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.ExportKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(WithApps(app), WithKeys(data), WithURL("https://login.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	if a.CurrentKey().ID != b.CurrentKey().ID {
		t.Errorf("kid changed across the restart: %s → %s", a.CurrentKey().ID, b.CurrentKey().ID)
	}
	if _, err := b.Verify(tok); err != nil {
		t.Errorf("a token issued before the restart does not verify after it: %v", err)
	}
	fresh, _ := New(WithApps(app), WithURL("https://login.example.test"))
	if _, err := fresh.Verify(tok); err == nil {
		t.Error("a fresh issuer verified another issuer's token: the check above proves nothing")
	}
}

func TestWithKeysRejectsBadInput(t *testing.T) {
	a, _ := New()
	good, _ := a.ExportKeys()
	swapped := strings.Replace(string(good), `"cert":`, `"x":`, 1)
	for name, data := range map[string]string{
		"not JSON":     "{",
		"one key":      `{"keys":[{"cert":"","key":""}]}`,
		"garbage DER":  `{"keys":[{"cert":"AAAA","key":"AAAA"},{"cert":"AAAA","key":"AAAA"}]}`,
		"missing cert": swapped,
	} {
		if _, err := New(WithKeys([]byte(data))); err == nil || !strings.Contains(err.Error(), "WithKeys") {
			t.Errorf("%s: New = %v, want a WithKeys error", name, err)
		}
	}
}
