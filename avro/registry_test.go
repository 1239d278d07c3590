package avro

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The HTTP server here is a unit-test aid only: it checks what the client
// sends and how it reads error responses. The Apicurio Registry of
// scripts/registry.sh is the real server of the tests in commands/, but it
// has no basic auth.
func TestRegistryBasicAuthAndErrors(t *testing.T) {
	var gotUser, gotPassword string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPassword, _ = r.BasicAuth()
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`))
	}))
	defer server.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvURL, server.URL)
	t.Setenv(EnvUser, "wifiq")
	t.Setenv(EnvPassword, "")
	t.Setenv(EnvPasswordFile, file)
	settings, err := LoadRegistrySettings("")
	if err != nil {
		t.Fatal(err)
	}
	registry, err := NewRegistry(settings)
	if err != nil {
		t.Fatal(err)
	}
	_, err = registry.Register(context.Background(), "pcap_probe-value", `{"type":"string"}`)
	var regErr *RegistryError
	if !errors.As(err, &regErr) {
		t.Fatalf("error %v, want a *RegistryError", err)
	}
	if regErr.Status != 409 || regErr.Code != 409 || !strings.Contains(err.Error(), "incompatible with an earlier schema") {
		t.Errorf("error %q, want HTTP 409, code 409 and the registry's message", err)
	}
	if gotUser != "wifiq" || gotPassword != "s3cret" {
		t.Errorf("basic auth %q:%q, want wifiq and the first line of the password file", gotUser, gotPassword)
	}
}

func TestLoadRegistrySettings(t *testing.T) {
	t.Setenv(EnvURL, "http://127.0.0.1:8081")
	t.Setenv(EnvUser, "")
	t.Setenv(EnvPassword, "")
	t.Setenv(EnvPasswordFile, "")
	if s, err := LoadRegistrySettings("http://127.0.0.1:9"); err != nil || s.URL != "http://127.0.0.1:9" {
		t.Errorf("flag over environment: %+v, %v", s, err)
	}
	if s, err := LoadRegistrySettings(""); err != nil || s.URL != "http://127.0.0.1:8081" {
		t.Errorf("environment: %+v, %v", s, err)
	}
	for _, bad := range []string{"127.0.0.1:8081", "ftp://h", "http://u:p@h"} {
		if _, err := LoadRegistrySettings(bad); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
	t.Setenv(EnvPasswordFile, filepath.Join(t.TempDir(), "missing"))
	if _, err := LoadRegistrySettings(""); err == nil || !strings.Contains(err.Error(), EnvPasswordFile) {
		t.Errorf("missing password file: %v", err)
	}
}
