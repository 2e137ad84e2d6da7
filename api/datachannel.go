package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"bbssh/pod"
)

// A data channel carries one byte stream between the client and the pod
// over a loopback TCP connection instead of the pod protocol, where every
// chunk would be base64 inside EDN inside bencode, parsed one string at a
// time: that caps a stream at tens of MB/s, a socket runs at memory speed.
//
// The pod listens on 127.0.0.1 for a single connection, which must start
// with the random token it handed out (other local users can reach a
// loopback port; they cannot guess 128 random bits). The listener gives up
// after dataChannelAccept.

// dataChannelAccept bounds the wait for the client to connect.
const dataChannelAccept = 30 * time.Second

// dataChannelBuf is the copy buffer of a data channel.
const dataChannelBuf = 256 << 10

// offerDataChannel opens a listener and, once the client has connected
// and presented the token, runs serve with the connection, which it
// closes afterwards. It returns {:port p :token t} for the client. If the
// client never comes, abandon runs instead, so the stream's other end is
// not left waiting.
func offerDataChannel(serve func(conn net.Conn), abandon func()) (map[any]any, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, pod.Errorf(ErrorNS+"/error", "cannot open a data channel: %v", err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		ln.Close()
		return nil, err
	}
	token := hex.EncodeToString(secret)
	go func() {
		defer ln.Close()
		deadline := time.Now().Add(dataChannelAccept)
		ln.(*net.TCPListener).SetDeadline(deadline)
		for {
			conn, err := ln.Accept()
			if err != nil {
				if abandon != nil {
					abandon()
				}
				return
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// Exactly the token's bytes: what follows is the stream.
			got := make([]byte, len(token)+1)
			_, err = io.ReadFull(conn, got)
			if err != nil || subtle.ConstantTimeCompare(got, []byte(token+"\n")) != 1 {
				conn.Close()
				if time.Now().After(deadline) {
					if abandon != nil {
						abandon()
					}
					return
				}
				continue
			}
			conn.SetReadDeadline(time.Time{})
			if tcp, ok := conn.(*net.TCPConn); ok {
				tcp.SetNoDelay(true)
			}
			ln.Close()
			defer conn.Close()
			serve(conn)
			return
		}
	}()
	return map[any]any{kw("port"): ln.Addr().(*net.TCPAddr).Port, kw("token"): token}, nil
}

// copyToChannel streams r to the client, then closes the connection so
// the client reads end of file. When r fails (its SSH connection was lost)
// the connection is reset instead, so the client's read fails rather than
// taking a truncated stream for a whole one.
func copyToChannel(r io.Reader) func(net.Conn) {
	return func(conn net.Conn) {
		if wt, ok := r.(io.WriterTo); ok {
			writeToChannel(wt, conn)
			return
		}
		buf := make([]byte, dataChannelBuf)
		for {
			n, rerr := r.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					// The client stopped reading: drain, so that the
					// command is not blocked for ever on a full
					// channel window.
					io.CopyBuffer(io.Discard, r, buf)
					return
				}
			}
			if rerr == io.EOF {
				return
			}
			if rerr != nil {
				resetConn(conn)
				return
			}
		}
	}
}

// writeToChannel is copyToChannel for a stream that writes itself out, as
// a command's output does (the SSH channel hands its packets to the
// connection, without a copy through a buffer).
func writeToChannel(r io.WriterTo, conn net.Conn) {
	_, err := r.WriteTo(conn)
	var op *net.OpError
	switch {
	case err == nil:
	case errors.As(err, &op) && strings.HasPrefix(op.Op, "write"):
		// The client stopped reading ("write" or "writev"): drain, as
		// copyToChannel does.
		r.WriteTo(io.Discard)
	default:
		resetConn(conn)
	}
}

// copyFromChannel streams what the client writes into w, closing w at
// the end of the client's stream.
func copyFromChannel(w io.WriteCloser) func(net.Conn) {
	return func(conn net.Conn) {
		buf := make([]byte, dataChannelBuf)
		io.CopyBuffer(w, conn, buf)
		w.Close()
	}
}

// copyFromChannelUntil is copyFromChannel for a consumer that can end by
// itself, as a command's stdin ends with the command: once wait returns
// (before its context is cancelled) the client's connection is closed, so
// the pod never keeps a goroutine and a descriptor for a script that
// leaves an idle stream open; the script's next write fails instead.
func copyFromChannelUntil(w io.WriteCloser, wait func(ctx context.Context)) func(net.Conn) {
	return func(conn net.Conn) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			wait(ctx)
			if ctx.Err() == nil {
				conn.Close()
			}
		}()
		copyFromChannel(w)(conn)
	}
}

// spliceChannel joins the client's data channel to a connection both
// ways, passing each end of stream on as a half-close, and a failure as a
// reset of the client's connection.
func spliceChannel(peer net.Conn) func(net.Conn) {
	return func(conn net.Conn) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, dataChannelBuf)
			if _, err := io.CopyBuffer(peer, conn, buf); err != nil {
				peer.Close()
				return
			}
			closeWrite(peer)
		}()
		buf := make([]byte, dataChannelBuf)
		if _, err := io.CopyBuffer(conn, peer, buf); err != nil {
			resetConn(conn)
		} else {
			closeWrite(conn)
		}
		<-done
	}
}

// resetConn closes c so that the client's next read fails instead of
// seeing the end of the stream.
func resetConn(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	c.Close()
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
