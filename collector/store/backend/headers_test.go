package backend

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSearchHeaders(t *testing.T) {
	got, err := SearchHeaders([]string{"X-Account", "p-charging-vector", "X_Tenant2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []SearchHeader{{"X-Account", "hdr_x_account"}, {"p-charging-vector", "hdr_p_charging_vector"}, {"X_Tenant2", "hdr_x_tenant2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		names []string
		err   string
	}{
		{[]string{""}, "length"},
		{[]string{strings.Repeat("x", 49)}, "length"},
		{[]string{"X-Acc`ount"}, "only letters"},
		{[]string{"X Account"}, "only letters"},
		{[]string{"x.y"}, "only letters"},
		{[]string{"X-Account", "x_account"}, "same column"},
	} {
		if _, err := SearchHeaders(tc.names); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want an error with %q", tc.names, err, tc.err)
		}
	}
}
