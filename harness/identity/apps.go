package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/saasconform/saasconform/spec"
)

// App is a publisher's app registration in Entra ID: the client a publisher's
// backend authenticates as, and the audience of the tokens the marketplace
// sends to that publisher's webhook.
type App struct {
	// Name is a label for reports; it plays no part in authentication.
	Name string `yaml:"name"`
	// TenantID is the directory the app is registered in (a GUID).
	TenantID string `yaml:"tenantId"`
	// ClientID is the app's application (client) id (a GUID).
	ClientID string `yaml:"clientId"`
	// Secret is the app's client secret.
	Secret string `yaml:"secret"`
	// PublisherID is the marketplace publisherId whose offers this app is
	// configured for in Partner Center; empty for an app that owns none.
	PublisherID string `yaml:"publisherId"`
}

// appsFile is the document LoadApps reads.
type appsFile struct {
	Apps []App `yaml:"apps"`
}

// LoadApps reads app registrations from YAML (see fixtures/apps.yaml):
//
//	apps:
//	  - {name: …, tenantId: <GUID>, clientId: <GUID>, secret: …, publisherId: …}
//
// Unknown keys are errors; every error names the line and the field.
func LoadApps(data []byte) ([]App, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f appsFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("identity: apps: empty document: want an \"apps\" list")
		}
		return nil, fmt.Errorf("identity: apps: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("identity: apps: %w", err)
	}
	items := appNodes(&root)
	if len(f.Apps) == 0 {
		return nil, errors.New("identity: apps: no apps: the document needs a non-empty \"apps\" list")
	}
	seen := map[string]int{}
	for n, a := range f.Apps {
		var item *yaml.Node
		if n < len(items) {
			item = items[n]
		}
		if field, err := validateApp(a); err != nil {
			return nil, fmt.Errorf("identity: apps: line %d: apps[%d].%s: %w", fieldLine(item, field), n, field, err)
		}
		if prev, dup := seen[strings.ToLower(a.ClientID)]; dup {
			return nil, fmt.Errorf("identity: apps: line %d: apps[%d].clientId: %s is already used by apps[%d]",
				fieldLine(item, "clientId"), n, a.ClientID, prev)
		}
		seen[strings.ToLower(a.ClientID)] = n
	}
	return f.Apps, nil
}

// validateApp checks one registration and names the offending field.
func validateApp(a App) (field string, err error) {
	switch {
	case !spec.IsGUID(a.TenantID):
		return "tenantId", fmt.Errorf("%q is not a GUID", a.TenantID)
	case !spec.IsGUID(a.ClientID):
		return "clientId", fmt.Errorf("%q is not a GUID", a.ClientID)
	case strings.TrimSpace(a.Secret) == "":
		return "secret", errors.New("is empty")
	}
	return "", nil
}

// appNodes returns the mapping node of each entry of the "apps" sequence.
func appNodes(root *yaml.Node) []*yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == "apps" && m.Content[k+1].Kind == yaml.SequenceNode {
			return m.Content[k+1].Content
		}
	}
	return nil
}

// fieldLine is the line of field in an entry, or of the entry itself when
// the field is absent.
func fieldLine(item *yaml.Node, field string) int {
	if item == nil {
		return 0
	}
	for k := 0; k+1 < len(item.Content); k += 2 {
		if item.Content[k].Value == field {
			return item.Content[k+1].Line
		}
	}
	return item.Line
}
