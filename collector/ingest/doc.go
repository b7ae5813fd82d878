// Package ingest holds the collector's HEP listeners: UDP sockets read in
// batches by several readers per address, and TCP and TLS listeners that
// split each connection's byte stream into HEP messages with a [Framer].
//
// A [Server] binds every address given in [Config.Listen] in [New], starts
// serving with [Server.Start] and stops with [Server.Close]. Every message
// is handed to the [Handler] as a byte slice that is valid only during the
// call. Loss is counted where it happens: the kernel's per-socket UDP drop
// counter (SO_MEMINFO), framing errors by reason, read errors and idle
// timeouts are exported through [Server.Collector] and [Server.Stats].
//
// # UDP
//
// Each udp:// address gets [Config.Readers] sockets bound with SO_REUSEPORT
// (the kernel spreads datagrams over them by flow hash), each with a
// receive buffer of [Config.RcvBuf] bytes (SO_RCVBUFFORCE when permitted,
// SO_RCVBUF otherwise; the effective size is read back and reported in
// [Status]). On Linux a reader takes up to [Config.Batch] datagrams per
// recvmmsg(2) call through the Go runtime's network poller.
//
// # TCP and TLS
//
// One goroutine per connection; a connection that stays silent longer than
// [Config.TCPIdle] is closed. A framing error (garbage in the stream) is
// counted and the framer resynchronises on the next message; after
// [Config.MaxFrameErrors] consecutive errors the connection is closed.
package ingest
