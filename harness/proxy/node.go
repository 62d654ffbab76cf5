package proxy

import (
	_ "embed"
	"fmt"
	"path/filepath"

	"github.com/saasconform/saasconform/harness/atomicfile"
)

// NodePreload is a script Node.js loads with --require (NODE_OPTIONS) so
// that its https module and its built-in fetch — which ignore HTTPS_PROXY
// before Node 24 — send Microsoft's hosts through the proxy named by
// HTTPS_PROXY, and nothing else.
//
//go:embed node-preload.cjs
var NodePreload []byte

// NodePreloadName is the preload's file name.
const NodePreloadName = "saasconform-node-preload.cjs"

// WriteNodePreload writes the preload into dir and returns its path.
func WriteNodePreload(dir string) (string, error) {
	path := filepath.Join(dir, NodePreloadName)
	if err := atomicfile.Write(path, NodePreload, 0o644); err != nil {
		return "", fmt.Errorf("proxy: writing the Node.js preload: %w", err)
	}
	return path, nil
}
