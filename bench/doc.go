// Package bench is the benchmark harness: traffic generation (package
// bench/gen, exposed as `xhep-bench gen`) and the suite of `xhep-bench`,
// which measures the whole system on the machine it runs on and prints a
// results table ([Report.WriteMarkdown], or [Report.WriteJSON]).
//
// [Run] runs the sections named in [Options.Only] (all of [Sections] by
// default):
//
//   - micro: HEP3 encode and decode of a generated ~600-byte SIP message,
//     SIP dissection into a store row (collector/dissect), the agent's
//     decode → classify → HEP encode per frame (agent.Pipeline.Process on
//     generated frames), with allocations, through testing.Benchmark on a
//     goroutine locked to its thread: the figure is that thread's CPU time
//     per operation (getrusage RUSAGE_THREAD), which a busy shared machine
//     does not inflate; the wall time is in the note. The capture filter's
//     in-kernel cost per packet is BPF_PROG_TEST_RUN on the XDP program
//     the bpf package loads (prog.Benchmark; bpf has no benchmark hook of
//     its own), for a non-matching RTP frame and a matching SIP frame whose
//     ring buffer copy a goroutine drains.
//   - agent: `xhep-agent --read` of a generated SIP capture (1,000,000
//     frames; 50,000 with --quick) through the agent pipeline, HEP over UDP
//     and then over TCP to a collector ingest listener on loopback: HEP/s,
//     loss against the generator's truth, CPU per HEP (this process: agent
//     and listener) and the senders' messages per syscall. Between the two,
//     the UDP floor: sendmmsg(2) CPU per 600-byte datagram on loopback,
//     the receiving softirq included, which bounds the UDP figure.
//   - live: two network namespaces (xbench-a-PID, xbench-b-PID) joined by
//     a veth pair. First the generator's ceiling: how fast generated SIP
//     frames go onto the veth with nothing capturing (gen.Blast through
//     sendmmsg with qdisc bypass, one and two sender threads; sendmmsg
//     through the qdisc and a TPACKET_V2 TX ring for comparison). Then the
//     ladder: 100k, 250k, 500k, 750k and 1M SIP pkts/s offered (paced by
//     gen.Pacer, a token bucket over batches) from two sender threads in
//     b, for every agent: xhep in ringbuf, afxdp and afpacket mode (a child
//     process, this executable again, see [LiveChildEnv]) and each peer of
//     [Options.Peers], started inside a (ip netns exec) and sending HEP
//     over UDP, then over TCP, to a listener of this process whose socket
//     lives in a (it acknowledges over TCP like the collector). Each step
//     reports what the generator reached, loss by stage (kernel: not
//     captured, ring full, AF_XDP socket drops; pipeline; agent sender;
//     listener socket), the agent's CPU per 100k pkts/s from
//     /proc/<pid>/stat, the kernel's softirq time per packet from
//     /proc/stat and the agent's peak RSS; one table per transport, with
//     the ratios to each peer. XHEP_BENCH_CPUPROFILE=FILE writes a CPU
//     profile of each agent child ({pid} in FILE is replaced by its pid).
//     The namespaces are removed when the run ends or is interrupted.
//   - mixed: RTP (non-matching 214-byte frames) as fast as one sender
//     thread goes plus SIP at 20,000 pkts/s from a second, HEP over TCP:
//     SIP lost per agent, the RTP rate reached and the kernel's cost per
//     RTP frame over a run with nothing capturing (the sender's CPU per
//     frame holds the veth peer's receive path), with an empty XDP
//     program as a second baseline (generic XDP's own price on a veth).
//   - collector: HEP over UDP at paced rates (sendmmsg) and over TCP into
//     collector/ingest; dissected SIP rows through collector/store into
//     MariaDB, rows/s until Flush, batch latency from the store's
//     histogram, CPU of this process and of mariadbd (its pid from
//     @@pid_file).
//   - e2e: a generated SIP capture paced at a fixed rate through the agent
//     pipeline, HEP over UDP into the collector Service (ingest, dissect,
//     store) and MariaDB; rows counted with SQL against the generator's
//     truth.
//   - storage: the same generated SIP rows into each store backend
//     (MariaDB with --mysql, ClickHouse with XHEP_BENCH_CLICKHOUSE or
//     XHEP_TEST_CLICKHOUSE) side by side: rows/s, CPU, bytes per SIP row
//     and the API's lookup, flow and user search p50/p99 (storage.go).
//
// The suite reports; it does not judge timings. Parts that cannot run
// (no root, no BPF, no database) are listed as skipped with the reason.
// Database runs create their own uniquely named database and drop it.
// Targets printed beside ours are quoted from the project's issues; peer
// figures are only those measured in the same run ([Options.Peers]: the
// user's binaries, never fetched or built by the suite), with the ratio
// xhep ÷ peer. The pcap replay runs each peer on the same capture too.
package bench
