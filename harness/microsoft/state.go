package microsoft

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/statefile"
	"github.com/saasconform/saasconform/harness/tlsca"
)

// The records Start keeps in Options.State besides the marketplace's own.
const (
	kindSession = "session"
	idApp       = "app"
	idCA        = "ca"
	idKeys      = "signing-keys"
)

// session is what makes a restarted fake the same Microsoft to the
// publisher: its credentials, the CA its TLS client trusts, and the keys
// its cached tokens are signed with.
type session struct {
	App  *identity.App
	CA   *caPair
	Keys json.RawMessage
}

type caPair struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// splitSession takes the session records out of a state file's records.
func splitSession(recs []statefile.Record) (session, []statefile.Record) {
	var s session
	rest := recs[:0:0]
	for _, r := range recs {
		if r.Kind != kindSession {
			rest = append(rest, r)
			continue
		}
		switch r.ID {
		case idApp:
			var a identity.App
			if json.Unmarshal(r.Value, &a) == nil {
				s.App = &a
			}
		case idCA:
			var p caPair
			if json.Unmarshal(r.Value, &p) == nil {
				s.CA = &p
			}
		case idKeys:
			s.Keys = r.Value
		}
	}
	return s, rest
}

// loadCA brings back the saved CA, or makes a new one (saying why when one
// was saved).
func (s *Side) loadCA(sess session) (*tlsca.CA, error) {
	if sess.CA != nil {
		ca, err := tlsca.Load([]byte(sess.CA.Cert), []byte(sess.CA.Key), s.Clock.Now())
		if err == nil {
			return ca, nil
		}
		s.Notes = append(s.Notes, fmt.Sprintf("new CA: the saved one does not load (%v); restart your app so it reads the new CA file", err))
	}
	return tlsca.New()
}

// restore loads the marketplace from the state file's records and writes
// the session there, so the next start finds it.
func (s *Side) restore(sf *statefile.File, market []statefile.Record) error {
	if err := s.Marketplace.Restore(market); err != nil {
		return fmt.Errorf("%w (state file %s)", err, sf.Path())
	}
	if n := len(s.Marketplace.Subscriptions()); n > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("restored %d subscription(s) from %s", n, sf.Path()))
	}
	if d := sf.Dropped(); d > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("dropped a torn last line (%d bytes) of %s: the process stopped inside a write that was never acknowledged", d, sf.Path()))
	}
	keyPEM, err := s.CA.KeyPEM()
	if err != nil {
		return err
	}
	keys, err := s.Identity.ExportKeys()
	if err != nil {
		return err
	}
	app, _ := json.Marshal(s.App)
	ca, _ := json.Marshal(caPair{Cert: string(s.CA.CertPEM()), Key: strings.TrimSpace(string(keyPEM)) + "\n"})
	return sf.Append(
		statefile.Record{Kind: kindSession, ID: idApp, Value: app},
		statefile.Record{Kind: kindSession, ID: idCA, Value: ca},
		statefile.Record{Kind: kindSession, ID: idKeys, Value: keys},
	)
}
