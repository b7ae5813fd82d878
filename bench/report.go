package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Result is one measured figure, or a figure that could not be measured
// (Skipped holds the reason then and Value is meaningless).
type Result struct {
	Section string  `json:"section"` // micro, agent, collector, e2e
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// Target is the goal for this figure (quoted); Peer is another
	// implementation's figure measured in the same run (--peer), with the
	// ratio xhep ÷ peer.
	Target  string `json:"target,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Note    string `json:"note,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// Machine describes where the suite ran.
type Machine struct {
	Cores   int    `json:"cores"`
	Model   string `json:"model"`
	Kernel  string `json:"kernel"`
	GoVer   string `json:"go"`
	LoadAvg string `json:"loadavg_start"` // /proc/loadavg 1, 5, 15 min at start
	LoadEnd string `json:"loadavg_end"`
}

// Report is the outcome of a suite run.
type Report struct {
	Date     time.Time     `json:"date"`
	Quick    bool          `json:"quick"`
	Sections []string      `json:"sections"`
	Machine  Machine       `json:"machine"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Results  []Result      `json:"results"`
	Tables   []Table       `json:"tables,omitempty"`
	Peers    []Peer        `json:"peers,omitempty"`
}

// Table is a measured series (the live ladder, the mixed scenario): one
// row per step, printed after the section's figures.
type Table struct {
	Section string     `json:"section"`
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Note    string     `json:"note,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteMarkdown writes r as Markdown: a header naming the machine and the
// date, then one table per section. Figures quoted from the issues
// (targets, peers) sit beside ours and are marked as quoted.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	mode := "full run"
	if r.Quick {
		mode = "--quick run"
	}
	fmt.Fprintf(&b, "xhep-bench %s, %s UTC, %s\n\n", mode, r.Date.UTC().Format("2006-01-02 15:04"), fmtDur(r.Elapsed))
	fmt.Fprintf(&b, "Machine: %d cores, %s, Linux %s, %s; load average %s at start, %s at end.\n\n",
		r.Machine.Cores, mdEscape(r.Machine.Model), r.Machine.Kernel, r.Machine.GoVer, r.Machine.LoadAvg, r.Machine.LoadEnd)
	b.WriteString("Target columns are quoted from the xhep issues. The peer column and the peer rows are measured in this run, side by side, when peers are given (--peer); without them it is empty.\n")
	for _, p := range r.Peers {
		fmt.Fprintf(&b, "\nPeer %s: %s (%s), measured in this run.\n", p.Name, mdEscape(p.Version), mdEscape(p.Path))
	}
	for _, sec := range r.Sections {
		fmt.Fprintf(&b, "\n### %s\n\n", sectionTitle(sec))
		b.WriteString("| figure | xhep (measured) | target (quoted) | peer (measured side by side) | notes |\n")
		b.WriteString("|---|---:|---|---|---|\n")
		n := 0
		for _, res := range r.Results {
			if res.Section != sec {
				continue
			}
			n++
			val := FormatValue(res.Value, res.Unit)
			if res.Skipped != "" {
				val = "skipped"
			}
			note := res.Note
			if res.Skipped != "" {
				note = "skipped: " + res.Skipped
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEscape(res.Name), val, mdEscape(res.Target), mdEscape(res.Peer), mdEscape(note))
		}
		if n == 0 {
			b.WriteString("| (nothing measured) | | | | |\n")
		}
		for _, t := range r.Tables {
			if t.Section == sec {
				writeTable(&b, t)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTable(b *strings.Builder, t Table) {
	fmt.Fprintf(b, "\n%s\n\n|", mdEscape(t.Title))
	for _, c := range t.Columns {
		fmt.Fprintf(b, " %s |", mdEscape(c))
	}
	b.WriteString("\n|")
	for range t.Columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range t.Rows {
		b.WriteString("|")
		for i := range t.Columns {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			fmt.Fprintf(b, " %s |", mdEscape(v))
		}
		b.WriteString("\n")
	}
	if t.Note != "" {
		fmt.Fprintf(b, "\n%s\n", mdEscape(t.Note))
	}
}

func sectionTitle(s string) string {
	switch s {
	case "micro":
		return "micro (per message, one core)"
	case "agent":
		return "agent (pcap replay, live capture on veth)"
	case "mixed":
		return "mixed traffic (RTP flood + SIP at a fixed rate, live on veth)"
	case "collector":
		return "collector (HEP ingest on loopback, MariaDB storage)"
	case "e2e":
		return "end to end (pcap → agent → HEP/UDP → collector → MariaDB)"
	}
	return s
}

// FormatValue prints a value with its unit: thousands separated for large
// numbers, three significant digits for small ones.
func FormatValue(v float64, unit string) string {
	var s string
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		s = "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		s = groupThousands(strconv.FormatInt(int64(v), 10))
	case math.Abs(v) >= 1000:
		s = groupThousands(strconv.FormatInt(int64(math.Round(v)), 10))
	case math.Abs(v) >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func fmtDur(d time.Duration) string {
	if d <= 0 {
		return "duration not recorded"
	}
	return "took " + d.Round(time.Second).String()
}

// probeMachine fills Machine from /proc (Linux) and the runtime.
func probeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVer: runtime.Version(), Model: "unknown CPU", Kernel: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
