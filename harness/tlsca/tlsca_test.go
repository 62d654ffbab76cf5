package tlsca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func hello(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello over ", r.Proto) }

func TestLeafCoversLoopbackNames(t *testing.T) {
	ca := newCA(t)
	leaf, err := ca.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range DefaultHosts {
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verified for a host it was not issued for")
	}
	other := newCA(t)
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: other.Pool()}); err == nil {
		t.Error("leaf verified against another run's CA")
	}
	if _, err := ca.Leaf(""); err == nil {
		t.Error("empty host accepted")
	}
}

func TestServeHTTPSAndPlain(t *testing.T) {
	ca := newCA(t)
	for _, plain := range []bool{false, true} {
		srv, err := ca.Serve(http.HandlerFunc(hello), plain)
		if err != nil {
			t.Fatal(err)
		}
		wantScheme := "https://"
		if plain {
			wantScheme = "http://"
		}
		if !strings.HasPrefix(srv.URL, wantScheme+"127.0.0.1:") {
			t.Errorf("URL = %s", srv.URL)
		}
		resp, err := ca.Client().Get(srv.URL)
		if err != nil {
			t.Fatalf("plain=%v: %v", plain, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "hello") {
			t.Errorf("body = %q", body)
		}
		if !plain {
			// A client that trusts only the system roots must refuse it.
			_, err := http.Get(srv.URL)
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Errorf("default client: err = %v, want unknown authority", err)
			}
		}
		srv.Close()
	}
}

func TestWriteFileHoldsOnlyTheCertificate(t *testing.T) {
	ca := newCA(t)
	path, err := ca.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("file holds %q", data)
	}
	if strings.Contains(string(data), "PRIVATE") {
		t.Fatal("private key written")
	}
	if _, err := ca.WriteFile("/nonexistent/dir"); err == nil {
		t.Error("writing into a missing folder did not fail")
	}
	env := strings.Join(Env(path), "\n")
	for _, k := range []string{"SSL_CERT_FILE=", "NODE_EXTRA_CA_CERTS=", "REQUESTS_CA_BUNDLE="} {
		if !strings.Contains(env, k+path) {
			t.Errorf("Env lacks %s", k)
		}
	}
}

// TestAnotherProcessTrustsTheExportedCA starts this test binary again as a
// plain client whose only link to the CA is SSL_CERT_FILE, as a publisher's
// process would be; and curl with --cacert.
func TestAnotherProcessTrustsTheExportedCA(t *testing.T) {
	ca := newCA(t)
	srv, err := ca.Serve(http.HandlerFunc(hello), false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path, err := ca.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(certFile string) (string, error) {
		cmd := exec.CommandContext(context.Background(), os.Args[0])
		cmd.Env = append(os.Environ(), "SAASCONFORM_HELPER_URL="+srv.URL, "SSL_CERT_FILE="+certFile, "SSL_CERT_DIR=/nonexistent")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(path); err != nil || !strings.Contains(out, "hello over") {
		t.Fatalf("child with SSL_CERT_FILE: %v\n%s", err, out)
	}
	otherPath, _ := newCA(t).WriteFile(t.TempDir())
	if out, err := run(otherPath); err == nil {
		t.Fatalf("child trusting another CA got through:\n%s", out)
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("curl not installed; the Go child process above is the check")
		return
	}
	out, err := exec.Command(curl, "-sS", "--cacert", path, srv.URL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello over") {
		t.Fatalf("curl --cacert: %v %s", err, out)
	}
	if out, err := exec.Command(curl, "-sS", "--cacert", otherPath, srv.URL).CombinedOutput(); err == nil {
		t.Fatalf("curl trusted the wrong CA: %s", out)
	}
}

// TestMain doubles as the child of TestAnotherProcessTrustsTheExportedCA:
// with SAASCONFORM_HELPER_URL set, the binary is a plain HTTPS client.
func TestMain(m *testing.M) {
	if url := os.Getenv("SAASCONFORM_HELPER_URL"); url != "" {
		resp, err := http.Get(url)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLoadBringsBackTheSameCA(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(ca.CertPEM(), key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A server with a leaf from the loaded CA is trusted by a client of the
	// original one.
	srv, err := back.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := ca.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("the loaded CA's server is not trusted by the original CA's client: %v", err)
	}
	resp.Body.Close()

	other, _ := New()
	otherKey, _ := other.KeyPEM()
	for name, c := range map[string][2][]byte{
		"mismatched pair": {ca.CertPEM(), otherKey},
		"not PEM":         {[]byte("x"), key},
	} {
		if _, err := Load(c[0], c[1], time.Now()); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
	if _, err := Load(ca.CertPEM(), key, time.Now().Add(7*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expires") {
		t.Errorf("an expiring CA was loaded: %v", err)
	}
}
