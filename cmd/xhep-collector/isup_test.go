package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// TestISUPEndToEnd runs the built collector on each backend, sends ISUP
// JSON (HEP type 54, a type added by one hep/proto entry and its
// decoder) over UDP and reads it back from GET /api/v1/events?type=54:
// HEP on the wire in, rows in the database, the API out.
func TestISUPEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	for _, backend := range []string{"mysql", "clickhouse"} {
		t.Run(backend, func(t *testing.T) {
			args := []string{"--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--spill-dir", t.TempDir()}
			switch backend {
			case "mysql":
				dsn := os.Getenv("XHEP_TEST_DSN")
				if dsn == "" {
					t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
				}
				name := mysqlTestDB(t, dsn)
				args = append(args, "--mysql", dsn, "--database", name)
			case "clickhouse":
				addr := os.Getenv("XHEP_TEST_CLICKHOUSE")
				if addr == "" {
					t.Skip("XHEP_TEST_CLICKHOUSE is not set: start a server with scripts/clickhouse.sh start and export XHEP_TEST_CLICKHOUSE=<the address it prints>")
				}
				name, _ := chFaultDB(t, addr)
				args = append(args, "--clickhouse", addr, "--clickhouse-user", "xhep", "--clickhouse-password", "xhep", "--database", name)
			}
			c := startCollector(t, bin, args)
			defer c.stop(t)

			at := time.Now().UTC().Truncate(time.Second)
			conn, err := net.Dial("udp", c.addrs["udp"])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i, p := range []string{
				`{"opc":2062,"dpc":1234,"cic":17,"msg_name":"IAM","called_number":{"ton":3,"num":"4930123456"},"calling_number":{"ton":3,"num":"4989654321"}}`,
				`{"opc":1234,"dpc":2062,"cic":17,"msg_name":"ACM"}`,
			} {
				m := hep.Message{IPFamily: 2, IPProto: 132, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
					SrcPort: 2905, DstPort: 2905, TsSec: uint32(at.Unix()), TsUsec: uint32(i * 1000), Proto: hep.ProtoM3UAJSON, NodeID: 7,
					Payload: []byte(p)}
				if i == 1 {
					m.SrcIP, m.DstIP = m.DstIP, m.SrcIP
				}
				b, err := m.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			u := "http://" + c.http + "/api/v1/events?type=54&from=" + url.QueryEscape(at.Add(-time.Minute).Format(time.RFC3339)) +
				"&to=" + url.QueryEscape(at.Add(time.Minute).Format(time.RFC3339))
			type row struct{ Src, Callid, Msg, Called string }
			var got []row
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				resp, err := http.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
				}
				var res struct {
					Events []struct {
						SrcIP  string `json:"src_ip"`
						Header struct {
							Callid, Msg_name, Called_number string
						} `json:"protocol_header"`
					}
				}
				if err := json.Unmarshal(body, &res); err != nil {
					t.Fatalf("decode %s: %v", body, err)
				}
				got = got[:0]
				for _, e := range res.Events {
					got = append(got, row{e.SrcIP, e.Header.Callid, e.Header.Msg_name, e.Header.Called_number})
				}
				if len(got) >= 2 {
					break
				}
			}
			want := []row{{"192.0.2.1", "1234:2062:17", "IAM", "4930123456"}, {"192.0.2.2", "1234:2062:17", "ACM", ""}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ISUP from the API (-want +got):\n%s", diff)
			}
		})
	}
}

// mysqlTestDB returns a fresh database name on the test server, dropped at
// cleanup (the collector creates it).
func mysqlTestDB(t *testing.T, dsn string) string {
	t.Helper()
	name, _ := faultDB(t, dsn)
	return name
}
