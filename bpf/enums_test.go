package bpf

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// cEnum returns the enumerators of enum name in C source src, with their
// values (explicit, or one more than the previous).
func cEnum(t *testing.T, src, name string) map[string]int {
	t.Helper()
	m := regexp.MustCompile(`(?s)enum\s+` + name + `\s*\{(.*?)\};`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("filter.h: no enum %s", name)
	}
	out := map[string]int{}
	next := 0
	for _, item := range strings.Split(m[1], ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, val, explicit := strings.Cut(item, "=")
		id = strings.TrimSpace(id)
		if explicit {
			n, err := strconv.ParseInt(strings.TrimSpace(val), 0, 32)
			if err != nil {
				t.Fatalf("filter.h: enum %s: %s: %v", name, item, err)
			}
			next = int(n)
		}
		out[id] = next
		next++
	}
	return out
}

// cDefines returns the object-like macros of src whose names start with
// prefix and whose values are integer literals.
func cDefines(src, prefix string) map[string]int {
	out := map[string]int{}
	re := regexp.MustCompile(`(?m)^#define\s+(` + prefix + `\w*)\s+(0x[0-9a-fA-F]+|\d+)\b`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		n, _ := strconv.ParseInt(m[2], 0, 32)
		out[m[1]] = int(n)
	}
	return out
}

func filterSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("filter.h")
	if err != nil {
		t.Fatal(err)
	}
	// Comments may hold commas and '=': drop them.
	return regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
}

// TestCEnumsMatchGo pins the Go mirrors of filter.h's enums and constants
// by name: the match classes (event.class, [EventHeader].Class), the
// counter indices (countersFrom), the port-class bits (port_class), the
// inline exclude slots and the snap length. Reordering, adding or
// renumbering one on either side without the other fails here.
func TestCEnumsMatchGo(t *testing.T) {
	src := filterSource(t)

	classes := map[string]int{
		"MATCH_SIP":            ClassSIP,
		"MATCH_SIP_CONTENT":    ClassSIPContent,
		"MATCH_RTCP":           ClassRTCP,
		"MATCH_DNS":            ClassDNS,
		"MATCH_FLOW":           ClassFlow,
		"MATCH_FRAGMENT":       ClassFragment,
		"MATCH_FRAGMENT_EARLY": ClassFragmentEarly,
	}
	if diff := cmp.Diff(classes, cEnum(t, src, "match_class")); diff != "" {
		t.Errorf("enum match_class vs bpf.Class* (-go +c):\n%s", diff)
	}

	counters := map[string]int{
		"C_SEEN": cSeen, "C_SIP": cSIP, "C_SIP_CONTENT": cSIPContent, "C_RTCP": cRTCP, "C_DNS": cDNS,
		"C_FLOW": cFlow, "C_FRAGMENT": cFragment, "C_CAPTURED": cCaptured, "C_RING_DROP": cRingDrop,
		"C_FRAG_TRACKED": cFragTracked, "C_FLOW_TRACKED": cFlowTracked, "C_PARSE_ERR": cParseErr,
		"C_EXCLUDED": cExcluded, "C_FILTERED": cFiltered, "C_TRUNCATED": cTruncated,
		"C_REDIRECT_ERR": cRedirectErr, "C_FRAG_EARLY": cFragEarly, "C_FRAG_EARLY_LIMITED": cFragEarlyLimited,
		"C_MAX": numCounters,
	}
	if diff := cmp.Diff(counters, cEnum(t, src, "counter")); diff != "" {
		t.Errorf("enum counter vs bpf counter indices (-go +c):\n%s", diff)
	}
	// Every counter index names a field of Counters, in order.
	if n := int(unsafe.Sizeof(Counters{}) / 8); n != numCounters {
		t.Errorf("Counters has %d fields, enum counter %d", n, numCounters)
	}

	ports := map[string]int{"PORT_SIP": portSIP, "PORT_DNS": portDNS, "PORT_EXCLUDE": portExclude}
	if diff := cmp.Diff(ports, cDefines(src, "PORT_")); diff != "" {
		t.Errorf("PORT_* vs bpf port classes (-go +c):\n%s", diff)
	}
	other := map[string]int{"MAX_SNAPLEN": MaxSnaplen, "EXCLUDE_INLINE": excludeInline}
	got := cDefines(src, "")
	for name, want := range other {
		if got[name] != want {
			t.Errorf("%s = %d in filter.h, %d in Go", name, got[name], want)
		}
	}
}

// TestEventLayout: ParseEvent reads the header at the offsets of the
// generated struct event.
func TestEventLayout(t *testing.T) {
	var e captureEvent
	got := []uintptr{unsafe.Offsetof(e.Ts), unsafe.Offsetof(e.Ifindex), unsafe.Offsetof(e.OrigLen),
		unsafe.Offsetof(e.CapLen), unsafe.Offsetof(e.Egress), unsafe.Offsetof(e.Class), unsafe.Sizeof(e)}
	want := []uintptr{0, 8, 12, 16, 20, 21, EventHeaderLen}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("struct event offsets ts,ifindex,orig_len,cap_len,egress,class,size (-ParseEvent +C):\n%s", diff)
	}
}
