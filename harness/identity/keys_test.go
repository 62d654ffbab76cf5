package identity

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// fetchJWKS gets the JWKS through the handler and parses it with go-jose,
// which also checks each x5t against its x5c certificate.
func fetchJWKS(t *testing.T, i *Issuer, path string) jose.JSONWebKeySet {
	t.Helper()
	w := httptest.NewRecorder()
	i.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://login.test"+path, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", path, w.Code, w.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return set
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestJWKSListsTwoKeysLikeEntra(t *testing.T) {
	i, _ := newTestIssuer(t)
	app := fixtureApp(t, i, "contoso")
	var first []string
	for _, p := range []string{"/" + app.TenantID + "/discovery/v2.0/keys", "/" + app.TenantID + "/discovery/keys", "/common/discovery/keys"} {
		set := fetchJWKS(t, i, p)
		if len(set.Keys) != 2 {
			t.Fatalf("%s: %d keys, want 2", p, len(set.Keys))
		}
		if first == nil {
			first = kids(set)
		} else if got := kids(set); got[0] != first[0] || got[1] != first[1] {
			t.Errorf("%s lists %v, other endpoints %v", p, got, first)
		}
		for _, k := range set.Keys {
			if k.Algorithm != "RS256" || k.Use != "sig" || !k.IsPublic() || !k.Valid() {
				t.Errorf("%s: key %s: alg %q use %q public %v", p, k.KeyID, k.Algorithm, k.Use, k.IsPublic())
			}
			if len(k.Certificates) != 1 {
				t.Fatalf("%s: key %s has %d certificates", p, k.KeyID, len(k.Certificates))
			}
			sum := sha1.Sum(k.Certificates[0].Raw)
			if x5t := base64.RawURLEncoding.EncodeToString(sum[:]); x5t != k.KeyID {
				t.Errorf("kid %s != x5t %s", k.KeyID, x5t)
			}
		}
	}
	if first[0] != i.CurrentKey().ID {
		t.Errorf("JWKS lists %v first, current key is %s", first, i.CurrentKey().ID)
	}
}

func TestRotateKeepsPreviousKeyAndDropsTheOneBefore(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	app := fixtureApp(t, i, "contoso")
	k0 := i.CurrentKey()
	tok0, _, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		t.Fatal(err)
	}

	k1 := i.Rotate()
	if k1.ID == k0.ID || i.CurrentKey().ID != k1.ID {
		t.Fatalf("Rotate did not make a fresh key current: %s → %s (current %s)", k0.ID, k1.ID, i.CurrentKey().ID)
	}
	if got := kids(fetchJWKS(t, i, "/common/discovery/keys")); len(got) != 2 || got[0] != k1.ID || got[1] != k0.ID {
		t.Errorf("after one rotation JWKS = %v, want [%s %s]", got, k1.ID, k0.ID)
	}
	if _, err := i.Verify(tok0); err != nil {
		t.Errorf("token signed with the previous key no longer verifies: %v", err)
	}
	tok1, _, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		t.Fatal(err)
	}

	k2 := i.Rotate()
	if _, ok := i.PublicKey(k0.ID); ok {
		t.Error("the key from two rotations ago is still in the JWKS")
	}
	if _, err := i.Verify(tok0); !errors.Is(err, ErrSignature) {
		t.Errorf("token of a dropped key: err = %v, want ErrSignature", err)
	}
	if _, err := i.Verify(tok1); err != nil {
		t.Errorf("token of the previous key: %v", err)
	}
	if got := kids(fetchJWKS(t, i, "/common/discovery/keys")); len(got) != 2 || got[0] != k2.ID || got[1] != k1.ID {
		t.Errorf("after two rotations JWKS = %v, want [%s %s]", got, k2.ID, k1.ID)
	}
	if pub, ok := i.PublicKey(k2.ID); !ok || !pub.Equal(&k2.Private.PublicKey) {
		t.Error("PublicKey does not return the current key")
	}
}

func TestRollBackRestoresTheKeyBeforeRotateAndKeepsBothVerifying(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	app := fixtureApp(t, i, "contoso")
	k0 := i.CurrentKey()
	k1 := i.Rotate()
	tok1, _, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		t.Fatal(err)
	}
	back, err := i.RollBack()
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != k0.ID || i.CurrentKey().ID != k0.ID {
		t.Fatalf("RollBack made %s current (CurrentKey %s), want the key before Rotate, %s", back.ID, i.CurrentKey().ID, k0.ID)
	}
	if got := kids(fetchJWKS(t, i, "/common/discovery/keys")); len(got) != 2 || got[0] != k0.ID || got[1] != k1.ID {
		t.Errorf("after RollBack JWKS = %v, want [%s %s]", got, k0.ID, k1.ID)
	}
	if _, err := i.Verify(tok1); err != nil {
		t.Errorf("a token signed with the rolled-back key no longer verifies: %v", err)
	}
	tok0, err := i.WebhookToken(app, V2)
	if err != nil {
		t.Fatal(err)
	}
	if kid := tokenKid(t, tok0); kid != k0.ID {
		t.Errorf("a webhook token after RollBack names kid %s, want %s", kid, k0.ID)
	}
}

// tokenKid is the kid in a compact JWT's header.
func tokenKid(t *testing.T, tok string) string {
	t.Helper()
	head, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}
