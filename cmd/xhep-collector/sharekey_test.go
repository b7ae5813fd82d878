package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/hep"
)

// TestShareKeyFileRestart: a share link made by a collector started with
// --share-key-file still opens the call after the collector restarts with
// the same file, and does not after a restart without it (a key per start).
func TestShareKeyFileRestart(t *testing.T) {
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	dbName, _ := faultDB(t, dsn)
	bin := buildBinary(t)
	keyFile := filepath.Join(t.TempDir(), "share.key")
	base := []string{"--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
		"--mysql", dsn, "--database", dbName, "--spill-dir", t.TempDir(), "--http", "127.0.0.1:0"}
	withKey := append(append([]string{}, base...), "--share-key-file", keyFile)

	c := startCollector(t, bin, withKey)
	callID := "share-restart-" + dbName
	m := hep.Message{IPFamily: 2, IPProto: 17, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5060, TsSec: uint32(time.Now().Unix()), Proto: hep.ProtoSIP, NodeID: 1,
		Payload: []byte(strings.ReplaceAll("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: "+callID+"\nCSeq: 1 INVITE\nContent-Length: 0\n\n", "\n", "\r\n"))}
	pkt, err := m.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.Dial("udp", c.addrs["udp"])
	if err != nil {
		t.Fatal(err)
	}
	uc.Write(pkt)
	uc.Close()
	get := func(addr, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	flowPath := "/api/v1/calls/" + callID + "/flow"
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := get(c.http, flowPath); code == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the call's flow is not served within a minute: last %d", code)
		}
	}
	resp, err := http.Post("http://"+c.http+flowPath[:len(flowPath)-len("/flow")]+"/share", "application/json", bytes.NewReader([]byte(`{"ttl":"1h"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var share struct{ Token string }
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &share) != nil || share.Token == "" {
		t.Fatalf("POST share: %s %s", resp.Status, body)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file after start: %v %v, want mode 0600", st, err)
	}
	sharedPath := "/api/v1/shared/" + share.Token + "/flow"
	open := func(addr, when string, want int) {
		t.Helper()
		code, b := get(addr, sharedPath)
		if code != want {
			t.Fatalf("%s: GET shared flow %d %s, want %d", when, code, b, want)
		}
		if want == http.StatusOK && !strings.Contains(b, callID) {
			t.Fatalf("%s: shared flow does not carry %s: %s", when, callID, b)
		}
	}
	open(c.http, "before the restart", http.StatusOK)
	c.stop(t)

	c = startCollector(t, bin, withKey)
	open(c.http, "after a restart with the same --share-key-file", http.StatusOK)
	c.stop(t)

	c = startCollector(t, bin, base)
	open(c.http, "after a restart without --share-key-file", http.StatusForbidden)
	c.stop(t)
}
