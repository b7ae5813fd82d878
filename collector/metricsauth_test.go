package collector

import (
	"net/http"
	"testing"
)

// TestMetricsAccess: with an API token /metrics needs it by default;
// --metrics-auth open serves it without; --metrics-addr serves it on its
// own address only.
func TestMetricsAccess(t *testing.T) {
	get := func(url, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	listen := []string{"udp://127.0.0.1:0"}

	s, _ := startService(t, Config{Listen: listen, APIToken: "s3cret"})
	u := "http://" + s.HTTPAddr().String() + "/metrics"
	if c := get(u, ""); c != http.StatusUnauthorized {
		t.Errorf("token set, no token: %d, want 401", c)
	}
	if c := get(u, "wrong"); c != http.StatusUnauthorized {
		t.Errorf("token set, wrong token: %d, want 401", c)
	}
	if c := get(u, "s3cret"); c != http.StatusOK {
		t.Errorf("token set, right token: %d, want 200", c)
	}

	s, _ = startService(t, Config{Listen: listen, APIToken: "s3cret", MetricsAuth: MetricsOpen})
	if c := get("http://"+s.HTTPAddr().String()+"/metrics", ""); c != http.StatusOK {
		t.Errorf("--metrics-auth open: %d, want 200", c)
	}

	s, _ = startService(t, Config{Listen: listen, APIToken: "s3cret", MetricsAddr: "127.0.0.1:0", MetricsAuth: MetricsOpen})
	if c := get("http://"+s.MetricsAddr().String()+"/metrics", ""); c != http.StatusOK {
		t.Errorf("--metrics-addr: %d, want 200", c)
	}
	if c := get("http://"+s.HTTPAddr().String()+"/metrics", "s3cret"); c != http.StatusNotFound {
		t.Errorf("--metrics-addr: /metrics on --http answers %d, want 404", c)
	}

	// No token: open, as before.
	s, _ = startService(t, Config{Listen: listen})
	if c := get("http://"+s.HTTPAddr().String()+"/metrics", ""); c != http.StatusOK {
		t.Errorf("no token: %d, want 200", c)
	}
	if err := (&Config{Listen: listen, Forward: []string{"udp://127.0.0.1:9"}, MetricsAuth: MetricsToken}).Validate(); err == nil {
		t.Error("--metrics-auth token without --api-token validated")
	}
}
