package identity

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens are minted over HTTP and verified while keys rotate and apps are
// registered; run with -race. A token may only fail verification because
// its key has left the JWKS (two rotations after it was signed).
func TestConcurrentMintVerifyRotate(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	app := fixtureApp(t, i, "contoso")
	form := v2Form(app, MarketplaceAppID+"/.default")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10; n++ {
				w := postForm(i, "/"+app.TenantID+"/oauth2/v2.0/token", form, nil)
				if w.Code != http.StatusOK {
					errs <- errors.New(w.Body.String())
					return
				}
				m := decodeJSON(t, w.Body)
				tok := m["access_token"].(string)
				if _, err := i.Verify(tok); err != nil {
					if !errors.Is(err, ErrSignature) || stillListed(i, tok) {
						errs <- err
						return
					}
				}
				_ = i.Apps()
				_ = i.IssuerFor(app.TenantID, V1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < 3; n++ {
			i.Rotate()
			_ = i.SetURL("https://login.test")
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// stillListed reports whether the token's kid is in the JWKS now.
func stillListed(i *Issuer, tok string) bool {
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		return false
	}
	kid, _ := parsed.Header["kid"].(string)
	_, ok := i.PublicKey(kid)
	return ok
}
