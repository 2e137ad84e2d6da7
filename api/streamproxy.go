package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"bbssh/pod"
)

// Streams backed by the script (input-stream/new-pod-proxy and
// output-stream/new-pod-proxy): every method of the Go stream asks a
// function of the script, over the streaming call that made the stream,
// as user-info does. The question is {:method :read :id "bb-7" :args
// [...]}; the client answers with callbacks/return-result or, when the
// function threw, return-error, which fails the stream operation with an
// :bbssh/io-error instead of leaving it waiting.

// remoteObject is a script-backed stream's object (callbacks.go): its
// failures are the stream's I/O errors.
type remoteObject struct{ *bbObject }

// invoke asks the script's method and waits for its answer, ctx's end or
// the object's release. A method the script did not define answers nil
// without a round trip, as bbssh 0.6's default (fn [& _]).
func (o *remoteObject) invoke(ctx context.Context, method string, args ...any) (any, error) {
	v, err := o.bbObject.invoke(ctx, method, args...)
	if err != nil && ctx.Err() == nil {
		return nil, ioError("%v", err)
	}
	return v, err
}

// release ends the object: waiting questions fail, and the streaming
// call that made it finishes, so the client drops its handler.
func (o *remoteObject) release() { o.bbObject.Close() }

// proxyIn is an InputStream whose methods are the script's functions.
type proxyIn struct{ *remoteObject }

// readCtx asks :read with the buffer's length; the answer is [n base64]
// with n = -1 at the end of the stream.
func (p *proxyIn) readCtx(ctx context.Context, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if !p.methods["read"] {
		return 0, ioError("the stream has no :read function")
	}
	v, err := p.invoke(ctx, "read", len(b))
	if err != nil {
		return 0, err
	}
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return 0, ioError("the stream's :read function must return [count bytes] (count -1 at the end), got %s", pod.Describe(v))
	}
	n, err := pod.AsInt("the count :read returned", pair[0])
	if err != nil {
		return 0, ioError("%v", err)
	}
	if n < 0 {
		return 0, io.EOF
	}
	s, _ := pair[1].(string)
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil || int64(len(data)) < n || n > int64(len(b)) {
		return 0, ioError("the stream's :read function returned %d bytes for a count of %d (at most %d asked)", len(data), n, len(b))
	}
	return copy(b, data[:n]), nil
}

// readByte asks :read with no argument; the answer is the byte, or -1.
func (p *proxyIn) readByte(ctx context.Context) (int, error) {
	if !p.methods["read"] {
		return 0, ioError("the stream has no :read function")
	}
	v, err := p.invoke(ctx, "read")
	if err != nil {
		return 0, err
	}
	n, err := pod.AsInt("the byte :read returned", v)
	if err != nil {
		return 0, ioError("%v", err)
	}
	if n < -1 || n > 255 {
		return 0, ioError("the stream's :read function returned %d, not a byte or -1", n)
	}
	return int(n), nil
}

func (p *proxyIn) intAnswer(method string, args ...any) (int64, error) {
	v, err := p.invoke(context.Background(), method, args...)
	if err != nil || v == nil {
		return 0, err
	}
	n, err := pod.AsInt("the value :"+method+" returned", v)
	if err != nil {
		return 0, ioError("%v", err)
	}
	return n, nil
}

func (p *proxyIn) Available() (int, error) {
	n, err := p.intAnswer("available")
	return int(n), err
}

func (p *proxyIn) Close() error {
	_, err := p.invoke(context.Background(), "close")
	return err
}

func (p *proxyIn) Mark(limit int) { p.invoke(context.Background(), "mark", limit) }

func (p *proxyIn) Reset() error {
	_, err := p.invoke(context.Background(), "reset")
	return err
}

func (p *proxyIn) MarkSupported() bool {
	v, err := p.invoke(context.Background(), "mark-supported")
	return err == nil && truthy(v)
}

func (p *proxyIn) Skip(n int64) (int64, error) { return p.intAnswer("skip", n) }

// proxyOut is an OutputStream whose methods are the script's functions.
type proxyOut struct{ *remoteObject }

// writeCtx calls :write with the bytes as base64 (the client hands the
// function a byte array).
func (p *proxyOut) writeCtx(ctx context.Context, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if _, err := p.invoke(ctx, "write", base64.StdEncoding.EncodeToString(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeByte calls :write with an int, as Java's write(int).
func (p *proxyOut) writeByte(ctx context.Context, b int) error {
	_, err := p.invoke(ctx, "write", b)
	return err
}

func (p *proxyOut) Flush() error {
	_, err := p.invoke(context.Background(), "flush")
	return err
}

func (p *proxyOut) Close() error {
	_, err := p.invoke(context.Background(), "close")
	return err
}

var (
	proxyInMethods  = []string{"available", "close", "mark", "mark-supported", "read", "reset", "skip"}
	proxyOutMethods = []string{"write", "flush", "close"}
)

// newProxyVar is the streaming var that makes a script-backed stream:
// it sends {:result handle}, then the questions, until the stream is
// freed.
func (a *API) newProxyVar(kind string, known []string, wrap func(*remoteObject) any) *pod.Var {
	return &pod.Var{Name: "new-pod-proxy", MinArgs: 1, MaxArgs: 1,
		Doc: fmt.Sprintf("Makes a %s whose methods call the client's functions: sends {:result handle}, then {:method :id :args} per call, answered with callbacks/return-result, until the handle is freed. "+
			"Methods: %v. E.g. (new-pod-proxy [:read :close])", kind, known),
		Arglists: []string{"[method-names]"},
		Stream:   a.bbObjectVar(kind, known, func(o *bbObject) any { return wrap(&remoteObject{o}) }),
	}
}
