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
// # Acknowledged delivery (tcp://, tls://)
//
// Every message a tcp or tls lane queues or spools is stamped with a
// sequence chunk (package hep, [hep.AppendSeq]): the lane's stream id,
// random per run, and a sequence number counting from 1. xhep-collector
// answers on the same connection with cumulative acks once messages are
// durable (in its database or its journal). Until then a sent message
// stays in the lane: ring slots between the acknowledged and the sent
// position, spool segments sent whole in a list in flight (the next is
// sent meanwhile). When the connection breaks, all of it is sent again on
// the next one, in order; the collector drops what it already stored by
// the stream's high-water mark, so delivery is exactly once. Messages
// spooled by an earlier run keep their stream id and sequence, and are
// acknowledged under it.
//
// A peer that sends nothing back within Config.AckTimeout of the first
// write (heplify-server, Kamailio sipcapture, sngrep, an older
// xhep-collector) is served plain HEP, as before: sent counts as
// delivered, [QueueStats].Unconfirmed counts those messages, the fallback
// is logged (Config.Logger) and counted. The sequence chunk stays in the
// messages; such receivers skip vendor chunks. Config.NoAck turns the
// whole mechanism off.
//
// Memory: unacknowledged messages occupy ring slots, so a collector that
// acknowledges slowly makes the queue fill (and Send block, or spill to
// the spool) sooner; the ring holds at most Config.QueueLen messages sent
// or not.
//
// Crash bounds: what is in memory (queued or waiting for an ack) is lost
// with the agent process. The spool's open segment is sealed (written and
// fsynced) at least every Config.SpoolSync while the collector is away and
// whenever it reaches 4 MiB, so a kill -9 loses at most the last SpoolSync
// (200 ms by default) of spooled messages, and never more than 4 MiB.
//
// [Group.Close] drains: everything queued is sent and, on an acknowledged
// connection, waited for until acknowledged, or spooled (counted
// Undelivered without a spool) when that does not happen within
// Config.DrainTimeout.
package send
