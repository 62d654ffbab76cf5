package marketplace

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// A continuation token names the creation sequence number of the last
// subscription on the previous page, not an offset: subscriptions bought
// between two page requests land at the end and do not shift the pages.
// It is base64url so it needs no escaping in @nextLink, and versioned so a
// later format can tell old tokens apart.
const continuationPrefix = "sc1."

func encodeContinuation(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(continuationPrefix + strconv.FormatUint(seq, 36)))
}

func decodeContinuation(tok string) (uint64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(raw), continuationPrefix)
	if !ok || s == "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 36, 64)
	if err != nil {
		return 0, false
	}
	return seq, true
}
