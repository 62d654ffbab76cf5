package microsoft

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/statefile"
)

func openState(t *testing.T, path string) *statefile.File {
	t.Helper()
	sf, err := statefile.Open(path, statefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sf.Close() })
	return sf
}

func accessToken(t *testing.T, s *Side) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.App.ClientID},
		"client_secret": {s.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
	resp, err := s.HTTPClient().PostForm(s.AuthorityURL+"/"+s.App.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", resp.StatusCode)
	}
	return tok.AccessToken
}

// TestRestartWithStateIsTheSameMicrosoft restarts the side on its state
// file and checks that, to the publisher, nothing changed: the same
// credentials, a TLS client that trusted the old CA file still connects, a
// token cached before the restart is still accepted, and the subscription
// bought before is there in the state it was left in.
func TestRestartWithStateIsTheSameMicrosoft(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.jsonl")
	firstState := openState(t, path)
	first, err := Start(Options{State: firstState, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Notes) != 0 {
		t.Errorf("a new state file gave notes %v", first.Notes)
	}
	tok := accessToken(t, first)
	buy, err := first.Marketplace.Purchase(marketplacePurchase())
	if err != nil {
		t.Fatal(err)
	}
	oldClient := first.HTTPClient() // trusts the first run's CA only
	oldApp, oldCA := first.App, first.CA.CertPEM()
	first.Close()
	firstState.Close() // as serve does on exit: the file is locked while open

	// serve restarts on the same addresses; so does this test.
	second, err := Start(Options{State: openState(t, path), Dir: dir,
		IdentityAddr:    strings.TrimPrefix(first.AuthorityURL, "https://"),
		MarketplaceAddr: strings.TrimSuffix(strings.TrimPrefix(first.MarketplaceURL, "https://"), "/api")})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.App != oldApp {
		t.Errorf("the app registration changed: %+v → %+v", oldApp, second.App)
	}
	if !bytes.Equal(second.CA.CertPEM(), oldCA) {
		t.Error("the CA changed across the restart")
	}
	if pem, _ := os.ReadFile(second.CAFile); !bytes.Equal(pem, oldCA) {
		t.Error("the CA file now holds another CA")
	}
	if len(second.Notes) != 1 || !strings.Contains(second.Notes[0], "restored 1 subscription") {
		t.Errorf("notes = %v, want one saying what was restored", second.Notes)
	}
	req, _ := http.NewRequest("POST", second.MarketplaceURL+"/saas/subscriptions/resolve?api-version=2018-08-31", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("x-ms-marketplace-token", buy.Token)
	resp, err := oldClient.Do(req)
	if err != nil {
		t.Fatalf("a client trusting the old CA cannot reach the restarted fake: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("resolve after restart with the token cached before it: %d; violations %v", resp.StatusCode, second.Log.All())
	}
}

func TestBadStateRecordsStopStartWithAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.jsonl")
	sf := openState(t, path)
	sf.Append(statefile.Record{Kind: "market.op", ID: "x", Value: json.RawMessage(`{"operation":{"id":"x","subscriptionId":"gone"},"seq":1}`)})
	sf.Close()
	_, err := Start(Options{State: openState(t, path)})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("Start = %v, want an error naming the file and the missing subscription", err)
	}
}

func TestUnloadableSavedCAIsReplacedAndSaid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.jsonl")
	sf := openState(t, path)
	sf.Append(statefile.Record{Kind: kindSession, ID: idCA, Value: json.RawMessage(`{"cert":"x","key":"y"}`)},
		statefile.Record{Kind: kindSession, ID: idKeys, Value: json.RawMessage(`{"keys":[]}`)})
	sf.Close()
	s, err := Start(Options{State: openState(t, path)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	notes := strings.Join(s.Notes, "\n")
	if !strings.Contains(notes, "new CA") || !strings.Contains(notes, "new signing keys") {
		t.Errorf("notes = %q, want both replacements said", notes)
	}
}
