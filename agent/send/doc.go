// Package send delivers encoded HEP messages to one or more collectors.
//
// A [Group] owns one queue ("lane") per destination: per collector in
// [ModeAll] (every message to every collector) and [ModeHash] (a message to
// one collector chosen by hashing its key, the Call-ID, so that a call's
// messages all reach the same collector), or a single lane over the
// collectors in order in [ModeFailover] (the first one that answers; while
// a later one is in use, the first is tried again every Config.BackoffMax
// and taken back as soon as it answers).
//
// Each lane is a bounded ring of message slots (Config.QueueLen messages)
// filled by [Group.Send], which copies the message into a buffer taken from
// the lane's free list: no allocation per message in steady state, and the
// queue's memory follows the deepest it has been, not its capacity (a lane
// that keeps up holds a few batches of buffers; one that backs up to
// QueueLen holds QueueLen buffers of the largest message size each held,
// about 65536 × 1 KiB = 64 MiB for SIP at the default length). One
// goroutine per lane empties the ring, up to Config.BatchLen messages per
// syscall. It parks when the ring is empty and is woken by the next Send;
// when it finds a short batch it lingers (Config.Linger) until half a
// batch is queued, so moderate rates still make full batches and one
// wakeup per batch; under load it never parks. [CollectorStats.Batches] is
// the histogram of messages per syscall, [QueueStats] counts parks and
// lingers.
//
//   - udp:// sends batches with sendmmsg(2) on a connected socket. A
//     collector that is not listening answers with ICMP port unreachable,
//     which Linux reports as ECONNREFUSED on the next send: the lane is then
//     down. Before the first message and after each outage the collector is
//     probed with an empty datagram (Config.ProbeWait for the ICMP answer),
//     so nothing is sent into a closed port while it is known to be closed.
//   - tcp:// and tls:// write batches through one contiguous buffer, at
//     most 256 KiB per write; messages are counted as sent when the kernel
//     took all their bytes. A
//     reader goroutine notices when the collector closes the connection.
//     Reconnection uses exponential backoff (Config.BackoffMin..BackoffMax).
//
// When a lane's collector is away, or its queue is full (unless
// Config.Block is set, which makes Send wait instead while the collector is
// up: right for reading a file, wrong for live capture), messages go to the
// zstd on-disk spool under Config.SpoolDir (one directory per lane) and are
// replayed in order when the collector answers again. While the spool holds
// anything, new messages go to the spool too, so order holds. Messages are
// dropped only when the queue and the spool are both full (or there is no
// spool), and every drop is counted with its reason ([Stats]).
//
// [Group.Close] drains: everything queued is sent, or spooled when its
// collector does not answer within Config.DrainTimeout.
package send
