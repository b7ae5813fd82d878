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
//     a veth pair; generated SIP frames sent by gen.RawSender from b at
//     rising paced rates; the agent, a child process (this executable
//     again, see [LiveChildEnv]), captures on a with the BPF ring buffer
//     source and sends HEP to a listener of this process, over UDP in a
//     first series of steps and over TCP in a second. Each step reports
//     loss by stage (kernel ring, pipeline, agent sender, collector
//     socket), the agent's CPU from /proc/<pid>/stat, its peak RSS with the
//     split between anonymous memory (the agent's own) and file-backed
//     pages (the BPF ring's double mapping), and the senders' messages per
//     syscall; the highest lossless rate is the fastest step without loss.
//     XHEP_BENCH_CPUPROFILE=FILE writes a CPU profile of each agent child
//     (the last step's remains) for go tool pprof. The
//     namespaces are removed when the run ends or is interrupted.
//   - collector: HEP over UDP at paced rates (sendmmsg) and over TCP into
//     collector/ingest; dissected SIP rows through collector/store into
//     MariaDB, rows/s until Flush, batch latency from the store's
//     histogram, CPU of this process and of mariadbd (its pid from
//     @@pid_file).
//   - e2e: a generated SIP capture paced at a fixed rate through the agent
//     pipeline, HEP over UDP into the collector Service (ingest, dissect,
//     store) and MariaDB; rows counted with SQL against the generator's
//     truth.
//
// The suite reports; it does not judge timings. Parts that cannot run
// (no root, no BPF, no database) are listed as skipped with the reason.
// Database runs create their own uniquely named database and drop it.
// Targets and other implementations' figures printed beside ours are
// quoted from the project's issues, not measured.
package bench
