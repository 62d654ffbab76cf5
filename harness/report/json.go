package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as indented JSON (the shape SCHEMA.md documents).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
