package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/spec"
)

// EncodeError is the body of an error answer in profile p, so the fake and
// this validator answer errors alike.
//
// Strict: the nested {"error":{"code","message","target"}} of Microsoft's
// OpenAPI document. Production: the shapes the real service is reported to
// send (spec/README.md, "The production profile"): a bare JSON string on
// 401 and 403, a flat {"code","message","target"} on every other status.
func EncodeError(p profile.Profile, status int, code, target, message string) []byte {
	var v any
	switch {
	case !p.IsProduction():
		type detail struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target,omitempty"`
		}
		v = map[string]detail{"error": {Code: code, Message: message, Target: target}}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		v = message
	default:
		v = struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target,omitempty"`
		}{code, message, target}
	}
	b, err := json.Marshal(v)
	if err != nil { // strings only: cannot happen
		return []byte(`{"error":{"code":"InternalServerError","message":"error body"}}`)
	}
	return b
}

// checkProductionError checks an error body of the fake in
// profile.Production: JSON, and one of the shapes spec's ProductionError
// allows.
func (v *Validator) checkProductionError(ctype string, body []byte) error {
	if !strings.HasPrefix(ctype, "application/json") {
		return fmt.Errorf("error answer with Content-Type %q, want application/json", ctype)
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	if err := v.productionError.VisitJSON(val); err != nil {
		return fmt.Errorf("error body is not a %s: %w", spec.ProductionErrorSchema, err)
	}
	return nil
}
