package clickhouse

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // "<nil>" for a missing value
	}{
		{"plain", `{"a":"x","b":12,"c":"y"}`, []string{"x", "12", "y"}},
		{"spaces and order", ` { "c" : "y" , "b" : 7 , "a" : "" } `, []string{"", "7", "y"}},
		{"escapes", `{"a":"q\"\\\/\n\u00e9\ud83d\ude00","b":null}`, []string{"q\"\\/\né😀", "<nil>", "<nil>"}},
		{"nested skipped", `{"x":{"a":"no","b":[1,{"c":"}"}]},"a":"yes","c":[1,2]}`, []string{"yes", "<nil>", "<nil>"}},
		{"literal", `{"a":true,"b":-3.5}`, []string{"true", "-3.5", "<nil>"}},
		{"truncated", `{"a":"x","b":`, []string{"x", "<nil>", "<nil>"}},
		{"not an object", `[1,2]`, []string{"<nil>", "<nil>", "<nil>"}},
		{"unterminated string", `{"a":"x`, []string{"<nil>", "<nil>", "<nil>"}},
		{"escaped key", `{"\u0061":"x"}`, []string{"<nil>", "<nil>", "<nil>"}},
	}
	f := newFields("a", "b", "c")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.parse([]byte(tt.doc))
			var got []string
			for _, v := range f.val {
				if v == nil {
					got = append(got, "<nil>")
				} else {
					got = append(got, string(v))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parse(%s) (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestFieldsNumbersAndCut(t *testing.T) {
	f := newFields("n", "s", "big", "neg", "q")
	f.parse([]byte(`{"n":5060,"s":"ééé","big":1234567890123456789,"neg":-1,"q":"200"}`))
	if got := f.uint(0); got != 5060 {
		t.Errorf("uint n = %d", got)
	}
	if got := f.uint(2); got != 0 {
		t.Errorf("uint of 19 digits = %d, want 0 (MySQL's rule: at most 18)", got)
	}
	if got := f.uint(3); got != 0 {
		t.Errorf("uint of -1 = %d, want 0", got)
	}
	if got := f.uint(4); got != 200 {
		t.Errorf("uint of \"200\" = %d, want 200", got)
	}
	if got := string(f.strN(1, 2)); got != "éé" {
		t.Errorf("strN cut by characters = %q", got)
	}
	if got := string(f.strN(1, 10)); got != "ééé" {
		t.Errorf("strN = %q", got)
	}
}

func TestFieldsNoAlloc(t *testing.T) {
	f := newFields(hepKeys...)
	doc := []byte(`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.1","dstIp":"198.51.100.7","srcPort":5060,"dstPort":5060,"timeSeconds":1,"correlation_id":"abc\"d"}`)
	if n := testing.AllocsPerRun(100, func() { f.parse(doc) }); n != 0 {
		t.Errorf("parse allocates %v times", n)
	}
}

func TestShardOfAndSeconds(t *testing.T) {
	if shardOf([]byte("a"), 1) != 0 {
		t.Error("one shard")
	}
	seen := map[int]bool{}
	for i := range 100 {
		seen[shardOf([]byte{byte(i), 'x'}, 3)] = true
	}
	if len(seen) != 3 {
		t.Errorf("shards used: %v", seen)
	}
	for _, tt := range []struct{ us, s int64 }{{0, 0}, {1_500_000, 1}, {-1, 0}, {1 << 62, 1<<32 - 1}} {
		if got := seconds(tt.us); got != tt.s {
			t.Errorf("seconds(%d) = %d, want %d", tt.us, got, tt.s)
		}
	}
}
