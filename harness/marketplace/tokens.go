package marketplace

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// tokenLen is the raw size of a purchase token. 97 bytes give 132 base64
// characters ending in "==", the shape of the real tokens.
const tokenLen = 97

// mangling says how a received token differs from the one issued.
type mangling int

const (
	decodedTwice mangling = iota + 1 // '+' became ' ' (url.QueryUnescape once more)
	notDecoded                       // still URL-encoded (url.QueryEscape of it)
)

type tokenRecord struct {
	subID  string
	issued time.Time
}

type mangledRef struct {
	token string // the token as issued
	how   mangling
}

// tokenTable maps issued tokens, and the forms a publisher's decoding bug
// turns them into, to their subscription. The mangled forms are computed at
// issue time so resolve is a map lookup, never a scan.
type tokenTable struct {
	issued  map[string]tokenRecord
	mangled map[string]mangledRef
}

func newTokenTable() tokenTable {
	return tokenTable{issued: map[string]tokenRecord{}, mangled: map[string]mangledRef{}}
}

// newToken returns a fresh opaque token. It insists on at least one '+' and
// one '/' so every token exercises the URL-decoding bugs FUL-RESOLVE-01 catches.
func newToken() string {
	buf := make([]byte, tokenLen)
	for {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
		t := base64.StdEncoding.EncodeToString(buf)
		if strings.Contains(t, "+") && strings.Contains(t, "/") {
			return t
		}
	}
}

func (t tokenTable) add(token, subID string, now time.Time) {
	t.issued[token] = tokenRecord{subID: subID, issued: now}
	// Decoding the query parameter a second time turns '+' into ' '; header
	// parsing may then trim a leading or trailing space, so keep that too.
	twice, err := url.QueryUnescape(token)
	if err != nil {
		twice = strings.ReplaceAll(token, "+", " ")
	}
	for _, f := range []string{twice, strings.TrimSpace(twice)} {
		if f != token {
			t.mangled[f] = mangledRef{token: token, how: decodedTwice}
		}
	}
	if enc := url.QueryEscape(token); enc != token {
		t.mangled[enc] = mangledRef{token: token, how: notDecoded}
	}
}

// lookup finds the issued token for a received one.
func (t tokenTable) lookup(received string) (tokenRecord, bool) {
	r, ok := t.issued[received]
	return r, ok
}

func (t tokenTable) lookupMangled(received string) (mangledRef, tokenRecord, bool) {
	m, ok := t.mangled[received]
	if !ok {
		return mangledRef{}, tokenRecord{}, false
	}
	r, ok := t.issued[m.token]
	return m, r, ok
}
