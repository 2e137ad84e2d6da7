package api

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// make-proxy streams: the client's java.io proxy of a pod stream moves
// its bytes over a data channel (datachannel.go), a loopback socket,
// rather than one base64 round trip per read or write. The pod copies
// between the socket and the stream; a failure resets the socket, so the
// client's next read or write throws instead of seeing a clean end.

// streamToChannel serves an input stream's bytes to the client until the
// stream ends.
func streamToChannel(in inStream) func(net.Conn) {
	return func(conn net.Conn) {
		// The client closing its socket ends the copy.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			var b [1]byte
			for {
				if _, err := conn.Read(b[:]); err != nil {
					cancel()
					return
				}
			}
		}()
		buf := make([]byte, dataChannelBuf)
		if _, err := copyStream(ctx, conn, in, buf); err != nil {
			resetConn(conn)
		}
	}
}

// outChannel copies what the client writes on a data channel into an
// output stream, counting the bytes for channel-sync.
type outChannel struct {
	out   outStream
	table *sync.Map // where it is found by its stream (API.outChannels)

	mu      sync.Mutex
	written int64
	err     error
	ended   bool
	changed signal
}

// newOutChannel makes the data channel of out, found by out until it
// ends (the latest, when the client made several proxies of one stream).
func (a *API) newOutChannel(out outStream) *outChannel {
	ch := &outChannel{out: out, table: &a.outChannels}
	a.outChannels.Store(out, ch)
	return ch
}

func (ch *outChannel) serve(conn net.Conn) {
	buf := make([]byte, dataChannelBuf)
	var err error
	for {
		n, rerr := conn.Read(buf)
		if n > 0 {
			if _, err = ch.out.writeCtx(context.Background(), buf[:n]); err != nil {
				break
			}
			ch.progress(int64(n), nil, false)
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
	}
	if err == nil {
		// The client closed its proxy: close the stream, then the socket
		// (by returning), which tells the client it is all done.
		err = ch.out.Close()
	}
	ch.progress(0, err, true)
	if err != nil {
		resetConn(conn)
	}
	ch.table.CompareAndDelete(ch.out, ch)
}

// abandon runs when the client never connected.
func (ch *outChannel) abandon() {
	ch.progress(0, ioError("the client never connected to the stream's data channel"), true)
	ch.table.CompareAndDelete(ch.out, ch)
}

func (ch *outChannel) progress(n int64, err error, ended bool) {
	ch.mu.Lock()
	ch.written += n
	if err != nil && ch.err == nil {
		ch.err = err
	}
	ch.ended = ch.ended || ended
	ch.changed.notify()
	ch.mu.Unlock()
}

// syncOutChannel waits until out's data channel has written n bytes (or
// ended), then flushes out.
func (a *API) syncOutChannel(ctx context.Context, out outStream, n int64) error {
	v, ok := a.outChannels.Load(out)
	if ok {
		ch := v.(*outChannel)
		for {
			ch.mu.Lock()
			written, err, ended := ch.written, ch.err, ch.ended
			wait := ch.changed.wait()
			ch.mu.Unlock()
			if err != nil {
				return streamErr(err)
			}
			if written >= n || ended {
				break
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return engineError(ctx.Err())
			}
		}
	}
	return streamErr(out.Flush())
}
