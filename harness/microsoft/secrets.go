package microsoft

import "github.com/saasconform/saasconform/harness/report"

// Secrets are the session's secrets known so far, for redaction by value:
// the client secret of every app the fake Entra ID knows and every purchase
// token the marketplace issued.
func (s *Side) Secrets() []report.Secret {
	var out []report.Secret
	for _, a := range s.Identity.Apps() {
		if a.Secret != "" {
			out = append(out, report.Secret{Name: "client secret", Value: a.Secret})
		}
	}
	for _, t := range s.Marketplace.PurchaseTokens() {
		out = append(out, report.Secret{Name: "purchase token", Value: t})
	}
	return out
}
