package bbssh

import (
	"errors"
	"io"
	"net"
)

// x/crypto/ssh ends a channel's reads with io.EOF both when the peer
// finished its stream and when the connection under the channel died: a
// forwarded connection cut short would look complete to whoever reads it.
// The connection's reader (hangupConn) records its failure before
// x/crypto/ssh learns of it and closes the channels, so an io.EOF read
// after the failure was recorded can be told apart and reported as what
// it is: the stream was cut.

// errStreamCut reports a channel stream that ended because the SSH
// connection was lost, not because its peer finished.
var errStreamCut = errors.New("the SSH connection was lost before the stream ended")

// connectionCut returns a function reporting whether the session's
// current connection has failed. It is false for ever once the session
// has been reconnected: it follows the connection, not the session.
func (s *Session) connectionCut() func() bool {
	s.mu.Lock()
	wire := s.wire
	s.mu.Unlock()
	if wire == nil {
		return func() bool { return false }
	}
	return wire.failed.Load
}

// cutReader turns the io.EOF of a channel cut by a lost connection into
// errStreamCut.
type cutReader struct {
	io.Reader
	cut func() bool
}

func (r cutReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF && r.cut() {
		err = errStreamCut
	}
	return n, err
}

// WriteTo writes the stream to w until it ends. A channel that has a
// WriteTo of its own (x/crypto/ssh's hands the packets as they arrived to
// w, without a copy through a buffer) is written through it, and a TCP
// connection as w is written with raw writev calls (rawsocket_linux.go).
func (r cutReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := r.Reader.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{r})
	}
	if c, ok := w.(*net.TCPConn); ok {
		w = newRawSocket(c)
	}
	n, err := wt.WriteTo(w)
	if err == nil && r.cut() {
		err = errStreamCut
	}
	return n, err
}

// abort closes c so that its peer sees an error rather than an end of
// stream: a TCP connection is reset. (A unix socket has no such signal;
// its peer sees the end of the stream.)
func abort(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	c.Close()
}
