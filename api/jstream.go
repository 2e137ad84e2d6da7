package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"bbssh/pod"
)

// The stream namespaces of bbssh 0.6 (input-stream, output-stream,
// byte-array-input-stream, byte-array-output-stream) hand the script
// java.io objects that live in the pod, to be wired to a low-level exec
// channel. These are their Go counterparts, with Java's semantics: a read
// blocks until at least one byte or the end of the stream, a pipe's
// writer blocks while the pipe is full, and errors are what Java throws
// as IOException (:bbssh/io-error).

// inStream is a java.io.InputStream held by the pod.
type inStream interface {
	// readCtx reads at least one byte, or returns io.EOF at the end;
	// it blocks until then or until ctx ends.
	readCtx(ctx context.Context, p []byte) (int, error)
	// Available is how many bytes can be read without blocking.
	Available() (int, error)
	Close() error
}

// outStream is a java.io.OutputStream held by the pod.
type outStream interface {
	// writeCtx writes all of p, blocking while a pipe is full, until ctx
	// ends.
	writeCtx(ctx context.Context, p []byte) (int, error)
	Flush() error
	Close() error
}

// markable is the mark/reset/skip part of java.io.InputStream that only
// some streams support.
type markable interface {
	Mark(limit int)
	Reset() error
	MarkSupported() bool
	Skip(n int64) (int64, error)
}

// ioError is an IOException with Java's message.
func ioError(format string, args ...any) *pod.Error {
	return pod.Errorf(ErrorNS+"/io-error", format, args...)
}

// errPipeClosed is what Java throws for a closed pipe end.
var errPipeClosed = ioError("Pipe closed")

// reader adapts an inStream to io.Reader for copies inside the pod; ctx
// bounds the copy.
type reader struct {
	ctx context.Context
	in  inStream
}

func (r reader) Read(p []byte) (int, error) { return r.in.readCtx(r.ctx, p) }

// writer adapts an outStream to io.Writer.
type writer struct {
	ctx context.Context
	out outStream
}

func (w writer) Write(p []byte) (int, error) { return w.out.writeCtx(w.ctx, p) }

// signal is a broadcast: waiters take the current channel, which is
// closed (and replaced) on every change.
type signal struct{ ch chan struct{} }

func (s *signal) wait() <-chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) notify() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// defaultPipeSize is the buffer of a pipe made without a size. Java's is
// 1024 bytes; a larger one saves round trips, and JSch's exec channel
// uses 32 KiB for its own pipes.
const defaultPipeSize = 64 << 10

// maxPipeSize bounds the buffer a script may ask for.
const maxPipeSize = 64 << 20

// pipeIn is a java.io.PipedInputStream: a bounded buffer filled by a
// connected pipeOut (or by a channel) and read by the script.
type pipeIn struct {
	mu           sync.Mutex
	changed      signal
	buf          []byte
	size         int
	connected    bool
	writerClosed bool // the writer closed: end of stream after the buffer
	closed       bool // the reader closed
}

func newPipeIn(size int) *pipeIn {
	if size <= 0 {
		size = defaultPipeSize
	}
	return &pipeIn{size: size}
}

func (p *pipeIn) readCtx(ctx context.Context, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			return 0, errPipeClosed
		case len(p.buf) > 0:
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.changed.notify()
			p.mu.Unlock()
			return n, nil
		case p.writerClosed:
			p.mu.Unlock()
			return 0, io.EOF
		case !p.connected:
			p.mu.Unlock()
			return 0, ioError("Pipe not connected")
		}
		wait := p.changed.wait()
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// put appends b, blocking while the buffer is full.
func (p *pipeIn) put(ctx context.Context, b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return written, ioError("Read end dead: the pipe's input stream is closed")
		}
		if p.writerClosed {
			p.mu.Unlock()
			return written, errPipeClosed
		}
		if room := p.size - len(p.buf); room > 0 {
			n := min(room, len(b))
			p.buf = append(p.buf, b[:n]...)
			b = b[n:]
			written += n
			p.changed.notify()
			p.mu.Unlock()
			continue
		}
		wait := p.changed.wait()
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return written, ctx.Err()
		}
	}
	return written, nil
}

// endWrite marks the end of the stream after what is buffered.
func (p *pipeIn) endWrite() {
	p.mu.Lock()
	p.writerClosed = true
	p.changed.notify()
	p.mu.Unlock()
}

// connect attaches a writer; a pipe has only one.
func (p *pipeIn) connect() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.connected {
		return ioError("Already connected")
	}
	p.connected = true
	p.changed.notify()
	return nil
}

func (p *pipeIn) Available() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errPipeClosed
	}
	return len(p.buf), nil
}

// Close closes the reading end: buffered bytes are dropped and the
// writer's next write fails.
func (p *pipeIn) Close() error {
	p.mu.Lock()
	p.closed = true
	p.buf = nil
	p.changed.notify()
	p.mu.Unlock()
	return nil
}

// pipeOut is a java.io.PipedOutputStream writing into a pipeIn.
type pipeOut struct {
	mu     sync.Mutex
	sink   *pipeIn
	closed bool
}

// connect joins the pipe's two ends.
func (o *pipeOut) connect(sink *pipeIn) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sink != nil {
		return ioError("Already connected")
	}
	if err := sink.connect(); err != nil {
		return err
	}
	o.sink = sink
	return nil
}

func (o *pipeOut) target() (*pipeIn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return nil, errPipeClosed
	case o.sink == nil:
		return nil, ioError("Pipe not connected")
	}
	return o.sink, nil
}

func (o *pipeOut) writeCtx(ctx context.Context, b []byte) (int, error) {
	sink, err := o.target()
	if err != nil {
		return 0, err
	}
	return sink.put(ctx, b)
}

// Flush wakes the reader; the bytes are already in the pipe.
func (o *pipeOut) Flush() error {
	_, err := o.target()
	return err
}

// Close ends the stream: the reader gets the buffered bytes, then the end.
func (o *pipeOut) Close() error {
	o.mu.Lock()
	sink := o.sink
	o.closed = true
	o.mu.Unlock()
	if sink != nil {
		sink.endWrite()
	}
	return nil
}

// byteArrayIn is a java.io.ByteArrayInputStream.
type byteArrayIn struct {
	mu   sync.Mutex
	data []byte
	pos  int
	mark int
}

func (b *byteArrayIn) readCtx(_ context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pos >= len(b.data) {
		return 0, io.EOF
	}
	n := copy(p, b.data[b.pos:])
	b.pos += n
	return n, nil
}

func (b *byteArrayIn) Available() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.data) - b.pos, nil
}

// Close has no effect, as in Java.
func (b *byteArrayIn) Close() error { return nil }

// Mark remembers the position; the limit does not matter for an array.
func (b *byteArrayIn) Mark(int) {
	b.mu.Lock()
	b.mark = b.pos
	b.mu.Unlock()
}

// Reset goes back to the mark (the start when none was set).
func (b *byteArrayIn) Reset() error {
	b.mu.Lock()
	b.pos = b.mark
	b.mu.Unlock()
	return nil
}

func (b *byteArrayIn) MarkSupported() bool { return true }

// Skip moves ahead at most n bytes (none for n <= 0) and says how many.
func (b *byteArrayIn) Skip(n int64) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := max(0, min(n, int64(len(b.data)-b.pos)))
	b.pos += int(k)
	return k, nil
}

// byteArrayOut is a java.io.ByteArrayOutputStream.
type byteArrayOut struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *byteArrayOut) writeCtx(_ context.Context, p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *byteArrayOut) Flush() error { return nil }

// Close has no effect, as in Java: writing on goes on working.
func (b *byteArrayOut) Close() error { return nil }

// Bytes returns a copy of the contents.
func (b *byteArrayOut) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *byteArrayOut) Size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *byteArrayOut) Reset() {
	b.mu.Lock()
	b.buf.Reset()
	b.mu.Unlock()
}

// copyStream copies in to out until the end of in, in chunks of buf; it
// returns the bytes copied and the first error other than the end.
func copyStream(ctx context.Context, out io.Writer, in inStream, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := in.readCtx(ctx, buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
