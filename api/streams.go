package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"bbssh/pod"
)

// The pod vars of bbssh 0.6's stream namespaces. Reads and writes that
// can block (a pipe, a script-backed stream) run on the call's goroutine
// and end with the pod; the protocol keeps serving meanwhile.

// inStreamOf returns the input stream behind handle v, of any kind.
func (a *API) inStreamOf(v any) (inStream, error) {
	kind, obj, err := a.reg.Lookup(v)
	if err != nil {
		return nil, err
	}
	in, ok := obj.(inStream)
	if !ok {
		return nil, pod.Errorf(pod.UnknownHandle, "handle %s is a %s, expected an input stream", v, kind)
	}
	return in, nil
}

// outStreamOf returns the output stream behind handle v, of any kind.
func (a *API) outStreamOf(v any) (outStream, error) {
	kind, obj, err := a.reg.Lookup(v)
	if err != nil {
		return nil, err
	}
	out, ok := obj.(outStream)
	if !ok {
		return nil, pod.Errorf(pod.UnknownHandle, "handle %s is a %s, expected an output stream", v, kind)
	}
	return out, nil
}

func (a *API) pipeInOf(v any) (*pipeIn, error) {
	kind, obj, err := a.reg.Lookup(v)
	if err != nil {
		return nil, err
	}
	p, ok := obj.(*pipeIn)
	if !ok {
		return nil, pod.Errorf(pod.UnknownHandle, "handle %s is a %s, expected an input-stream made by input-stream/new", v, kind)
	}
	return p, nil
}

func (a *API) pipeOutOf(v any) (*pipeOut, error) {
	kind, obj, err := a.reg.Lookup(v)
	if err != nil {
		return nil, err
	}
	p, ok := obj.(*pipeOut)
	if !ok {
		return nil, pod.Errorf(pod.UnknownHandle, "handle %s is a %s, expected an output-stream made by output-stream/new", v, kind)
	}
	return p, nil
}

// pipeSize reads a pipe's buffer size argument.
func pipeSize(v any) (int, error) {
	n, err := pod.AsInt("pipe size", v)
	if err != nil {
		return 0, err
	}
	if n <= 0 || n > maxPipeSize {
		return 0, badOption("pipe size must be between 1 and %d bytes, got %d", maxPipeSize, n)
	}
	return int(n), nil
}

// readCount reads the byte count of a read, bounded like exec's reads.
func readCount(c *pod.Call, i int) (int, error) {
	n, err := c.Args.Int(i)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, badOption("the length to read must be >= 0, got %d", n)
	}
	return int(min(n, maxRead)), nil
}

// readOne reads a byte as Java's read(): 0-255, or -1 at the end.
func readOne(ctx context.Context, in inStream) (int, error) {
	if p, ok := in.(*proxyIn); ok {
		return p.readByte(ctx)
	}
	var b [1]byte
	for {
		n, err := in.readCtx(ctx, b[:])
		if n == 1 {
			return int(b[0]), nil
		}
		if errors.Is(err, io.EOF) {
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// readSome reads up to n bytes as Java's read(byte[], off, len): returns
// [count base64], count -1 (and nil) at the end, 0 (and "") for n = 0.
func readSome(ctx context.Context, in inStream, n int) (any, error) {
	if n == 0 {
		return []any{0, ""}, nil
	}
	buf := make([]byte, n)
	for {
		k, err := in.readCtx(ctx, buf)
		if k > 0 {
			return []any{k, base64.StdEncoding.EncodeToString(buf[:k])}, nil
		}
		if errors.Is(err, io.EOF) {
			return []any{-1, nil}, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// streamErr passes pod errors on and makes the rest I/O errors.
func streamErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pod.Error
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) {
		return engineError(err)
	}
	return ioError("%v", err)
}

// writeArg writes argument 1 of a write call: an int (one byte) or
// base64 bytes, of which only the first len when argument 2 is given.
func writeArg(ctx context.Context, c *pod.Call, out outStream) error {
	switch v := c.Args.Get(1).(type) {
	case int64:
		if c.Args.Len() > 2 {
			return badOption("write of a single byte takes no length")
		}
		if p, ok := out.(*proxyOut); ok {
			return streamErr(p.writeByte(ctx, int(v)))
		}
		_, err := out.writeCtx(ctx, []byte{byte(v)})
		return streamErr(err)
	case string:
		data, err := bytesArg(c, 1)
		if err != nil {
			return err
		}
		if c.Args.Len() > 2 {
			n, err := c.Args.Int(2)
			if err != nil {
				return err
			}
			if n < 0 || n > int64(len(data)) {
				return badOption("write length %d is outside the %d bytes given", n, len(data))
			}
			data = data[:n]
		}
		_, err = out.writeCtx(ctx, data)
		return streamErr(err)
	}
	return badOption("write wants a byte (an int) or base64 bytes, got %s", pod.Describe(c.Args.Get(1)))
}

func (a *API) registerStreams(in, out, bain, baout *pod.Namespace) {
	a.registerInputStream(in)
	a.registerOutputStream(out)
	a.registerByteArrayInput(bain)
	a.registerByteArrayOutput(baout)
}

func (a *API) registerInputStream(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 0, MaxArgs: 2,
		Doc:      "Makes a pipe's reading end (java.io.PipedInputStream), connected to an output-stream when given; size is its buffer [65536]. E.g. (new) (new 1024) (new out) (new out 1024)",
		Arglists: []string{"[]", "[size-or-source]", "[source size]"},
		Fn: func(c *pod.Call) (any, error) {
			size := 0
			var src *pipeOut
			var err error
			for i := 0; i < c.Args.Len(); i++ {
				v := c.Args.Get(i)
				if _, isInt := v.(int64); isInt {
					if size, err = pipeSize(v); err != nil {
						return nil, err
					}
				} else if i == 0 {
					if src, err = a.pipeOutOf(v); err != nil {
						return nil, err
					}
				} else {
					return nil, badOption("the pipe size must be an int, got %s", pod.Describe(v))
				}
			}
			p := newPipeIn(size)
			if src != nil {
				if err := src.connect(p); err != nil {
					return nil, err
				}
			}
			return a.reg.Put("input-stream", p), nil
		}})
	ns.Add(&pod.Var{Name: "connect", MinArgs: 2, MaxArgs: 2,
		Doc:      "Connects a pipe's reading end to its writing end. E.g. (connect in out)",
		Arglists: []string{"[stream source]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.pipeInOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			src, err := a.pipeOutOf(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			return nil, src.connect(p)
		}})
	ns.Add(&pod.Var{Name: "read", MinArgs: 1, MaxArgs: 2,
		Doc:      "Reads one byte (an int, -1 at the end) or up to n bytes ([count base64], count -1 at the end); blocks until there is something. E.g. (read s) (read s 8192) ;; => [5 \"aGVsbG8=\"]",
		Arglists: []string{"[stream]", "[stream n]"},
		Fn: func(c *pod.Call) (any, error) {
			in, err := a.inStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			if c.Args.Len() == 1 {
				b, err := readOne(c.Ctx, in)
				return b, streamErr(err)
			}
			n, err := readCount(c, 1)
			if err != nil {
				return nil, err
			}
			v, err := readSome(c.Ctx, in, n)
			return v, streamErr(err)
		}})
	ns.Add(&pod.Var{Name: "available", MinArgs: 1, MaxArgs: 1,
		Doc:      "Bytes readable without blocking. E.g. (available s) ;; => 5",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			in, err := a.inStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			n, err := in.Available()
			return n, streamErr(err)
		}})
	ns.Add(&pod.Var{Name: "close", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the stream. E.g. (close s)",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			in, err := a.inStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, streamErr(in.Close())
		}})
	ns.Add(&pod.Var{Name: "channel", MinArgs: 1, MaxArgs: 1,
		Doc:      "Offers the stream's bytes on a loopback data channel: returns {:port :token}; the socket carries the bytes read from the stream until its end, and is reset if reading fails. E.g. (channel s)",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			in, err := a.inStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return offerDataChannel(streamToChannel(in), nil)
		}})
	ns.Add(a.newProxyVar("input-stream", proxyInMethods, func(o *remoteObject) any { return &proxyIn{o} }))
}

func (a *API) registerOutputStream(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 0, MaxArgs: 1,
		Doc:      "Makes a pipe's writing end (java.io.PipedOutputStream), connected to an input-stream when given. E.g. (new) (new in)",
		Arglists: []string{"[]", "[sink]"},
		Fn: func(c *pod.Call) (any, error) {
			o := &pipeOut{}
			if c.Args.Len() == 1 {
				sink, err := a.pipeInOf(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				if err := o.connect(sink); err != nil {
					return nil, err
				}
			}
			return a.reg.Put("output-stream", o), nil
		}})
	ns.Add(&pod.Var{Name: "connect", MinArgs: 2, MaxArgs: 2,
		Doc:      "Connects a pipe's writing end to its reading end. E.g. (connect out in)",
		Arglists: []string{"[stream sink]"},
		Fn: func(c *pod.Call) (any, error) {
			o, err := a.pipeOutOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			sink, err := a.pipeInOf(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			return nil, o.connect(sink)
		}})
	ns.Add(&pod.Var{Name: "write", MinArgs: 2, MaxArgs: 3,
		Doc:      "Writes a byte (an int) or base64 bytes (the first len of them when given); blocks while a pipe is full. E.g. (write s 65) (write s \"aGVsbG8=\" 5)",
		Arglists: []string{"[stream byte-or-base64]", "[stream base64 len]"},
		Fn: func(c *pod.Call) (any, error) {
			out, err := a.outStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, writeArg(c.Ctx, c, out)
		}})
	ns.Add(&pod.Var{Name: "flush", MinArgs: 1, MaxArgs: 1,
		Doc:      "Flushes the stream. E.g. (flush s)",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			out, err := a.outStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, streamErr(out.Flush())
		}})
	ns.Add(&pod.Var{Name: "close", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the stream; a pipe's reader then reads to the end. E.g. (close s)",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			out, err := a.outStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, streamErr(out.Close())
		}})
	ns.Add(&pod.Var{Name: "channel", MinArgs: 1, MaxArgs: 1,
		Doc:      "Offers the stream on a loopback data channel: returns {:port :token}; the bytes the client writes go into the stream, whose end closes it. E.g. (channel s)",
		Arglists: []string{"[stream]"},
		Fn: func(c *pod.Call) (any, error) {
			out, err := a.outStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			ch := a.newOutChannel(out)
			return offerDataChannel(ch.serve, ch.abandon)
		}})
	ns.Add(&pod.Var{Name: "channel-sync", MinArgs: 2, MaxArgs: 2,
		Doc:      "Waits until the stream's data channel has written the first n bytes the client sent into the stream, then flushes it: a flush through the channel. E.g. (channel-sync s 1048576)",
		Arglists: []string{"[stream n]"},
		Fn: func(c *pod.Call) (any, error) {
			out, err := a.outStreamOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			n, err := c.Args.Int(1)
			if err != nil {
				return nil, err
			}
			return nil, a.syncOutChannel(c.Ctx, out, n)
		}})
	ns.Add(a.newProxyVar("output-stream", proxyOutMethods, func(o *remoteObject) any { return &proxyOut{o} }))
}

func (a *API) byteArrayIn(v any) (*byteArrayIn, error) {
	obj, err := a.reg.Get("byte-array-input-stream", v)
	if err != nil {
		return nil, err
	}
	return obj.(*byteArrayIn), nil
}

func (a *API) byteArrayOut(v any) (*byteArrayOut, error) {
	obj, err := a.reg.Get("byte-array-output-stream", v)
	if err != nil {
		return nil, err
	}
	return obj.(*byteArrayOut), nil
}

// isUTF8 reports whether a charset name means UTF-8, the encoding the pod
// itself converts; the client converts the others.
func isUTF8(enc string) bool {
	e := strings.ToLower(strings.ReplaceAll(enc, "_", "-"))
	return e == "utf-8" || e == "utf8"
}

func (a *API) registerByteArrayInput(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new-from-string", MinArgs: 1, MaxArgs: 2,
		Doc:      "Makes a java.io.ByteArrayInputStream of a string's UTF-8 bytes (the client encodes other charsets). E.g. (new-from-string \"hello\")",
		Arglists: []string{"[s]", "[s encoding]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			if c.Args.Len() > 1 && c.Args.Get(1) != nil {
				enc, err := c.Args.String(1)
				if err != nil {
					return nil, err
				}
				if !isUTF8(enc) {
					return nil, badOption("the pod encodes strings as UTF-8 only, got %q (encode with .getBytes and use new-from-bytes)", enc)
				}
			}
			return a.reg.Put("byte-array-input-stream", &byteArrayIn{data: []byte(s)}), nil
		}})
	ns.Add(&pod.Var{Name: "new-from-bytes", MinArgs: 1, MaxArgs: 1,
		Doc:      "Makes a java.io.ByteArrayInputStream of base64 bytes. E.g. (new-from-bytes \"AQID\")",
		Arglists: []string{"[base64]"},
		Fn: func(c *pod.Call) (any, error) {
			data, err := bytesArg(c, 0)
			if err != nil {
				return nil, err
			}
			return a.reg.Put("byte-array-input-stream", &byteArrayIn{data: data}), nil
		}})
	ns.Add(&pod.Var{Name: "read", MinArgs: 1, MaxArgs: 2,
		Doc:      "Reads one byte (-1 at the end) or up to n bytes ([count base64], count -1 at the end). E.g. (read s 4) ;; => [4 \"AQIDBA==\"]",
		Arglists: []string{"[stream]", "[stream n]"},
		Fn: func(c *pod.Call) (any, error) {
			b, err := a.byteArrayIn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			if c.Args.Len() == 1 {
				return readOne(c.Ctx, b)
			}
			n, err := readCount(c, 1)
			if err != nil {
				return nil, err
			}
			return readSome(c.Ctx, b, n)
		}})
	simple := []struct {
		name, doc, args string
		fn              func(c *pod.Call, b *byteArrayIn) (any, error)
	}{
		{"available", "Bytes left to read. E.g. (available s) ;; => 3", "[stream]",
			func(c *pod.Call, b *byteArrayIn) (any, error) { return b.Available() }},
		{"close", "Has no effect, as in Java. E.g. (close s)", "[stream]",
			func(c *pod.Call, b *byteArrayIn) (any, error) { return nil, b.Close() }},
		{"mark-supported", "True: the stream supports mark and reset. E.g. (mark-supported s) ;; => true", "[stream]",
			func(c *pod.Call, b *byteArrayIn) (any, error) { return b.MarkSupported(), nil }},
		{"reset", "Goes back to the mark (the start when none was set). E.g. (reset s)", "[stream]",
			func(c *pod.Call, b *byteArrayIn) (any, error) { return nil, b.Reset() }},
		{"mark", "Marks the position for reset (the limit does not matter). E.g. (mark s 0)", "[stream read-ahead-limit]",
			func(c *pod.Call, b *byteArrayIn) (any, error) {
				n, err := c.Args.Int(1)
				if err != nil {
					return nil, err
				}
				b.Mark(int(n))
				return nil, nil
			}},
		{"skip", "Skips at most n bytes; returns how many. E.g. (skip s 2) ;; => 2", "[stream n]",
			func(c *pod.Call, b *byteArrayIn) (any, error) {
				n, err := c.Args.Int(1)
				if err != nil {
					return nil, err
				}
				return b.Skip(n)
			}},
	}
	for _, s := range simple {
		s := s
		nargs := strings.Count(s.args, " ") + 1
		ns.Add(&pod.Var{Name: s.name, MinArgs: nargs, MaxArgs: nargs, Doc: s.doc, Arglists: []string{s.args},
			Fn: func(c *pod.Call) (any, error) {
				b, err := a.byteArrayIn(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				return s.fn(c, b)
			}})
	}
}

func (a *API) registerByteArrayOutput(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 0, MaxArgs: 1,
		Doc:      "Makes a java.io.ByteArrayOutputStream; the size is only a hint. E.g. (new) (new 4096)",
		Arglists: []string{"[]", "[size]"},
		Fn: func(c *pod.Call) (any, error) {
			b := &byteArrayOut{}
			if c.Args.Len() == 1 {
				n, err := c.Args.Int(0)
				if err != nil {
					return nil, err
				}
				if n < 0 {
					return nil, badOption("negative initial size: %d", n)
				}
				b.buf.Grow(int(min(n, 1<<20)))
			}
			return a.reg.Put("byte-array-output-stream", b), nil
		}})
	ns.Add(&pod.Var{Name: "write", MinArgs: 2, MaxArgs: 3,
		Doc:      "Appends a byte (an int) or base64 bytes. E.g. (write s 65) (write s \"aGk=\")",
		Arglists: []string{"[stream byte-or-base64]", "[stream base64 len]"},
		Fn: func(c *pod.Call) (any, error) {
			b, err := a.byteArrayOut(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, writeArg(c.Ctx, c, b)
		}})
	ns.Add(&pod.Var{Name: "write-to", MinArgs: 2, MaxArgs: 2,
		Doc:      "Writes the whole contents to another output stream. E.g. (write-to s out)",
		Arglists: []string{"[stream out]"},
		Fn: func(c *pod.Call) (any, error) {
			b, err := a.byteArrayOut(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			out, err := a.outStreamOf(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			_, err = out.writeCtx(c.Ctx, b.Bytes())
			return nil, streamErr(err)
		}})
	ns.Add(&pod.Var{Name: "to-string", MinArgs: 1, MaxArgs: 2,
		Doc:      "The contents decoded as UTF-8 (invalid bytes become U+FFFD, as Java does); the client decodes other charsets. E.g. (to-string s) ;; => \"hi\"",
		Arglists: []string{"[stream]", "[stream encoding]"},
		Fn: func(c *pod.Call) (any, error) {
			b, err := a.byteArrayOut(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			if c.Args.Len() > 1 {
				enc, err := c.Args.String(1)
				if err != nil {
					return nil, err
				}
				if !isUTF8(enc) {
					return nil, badOption("the pod decodes UTF-8 only, got %q (decode the bytes of to-byte-array)", enc)
				}
			}
			data := b.Bytes()
			if utf8.Valid(data) {
				return string(data), nil
			}
			return strings.ToValidUTF8(string(data), "\uFFFD"), nil
		}})
	simple := []struct {
		name, doc string
		fn        func(b *byteArrayOut) any
	}{
		{"to-byte-array", "The contents as base64. E.g. (to-byte-array s) ;; => \"aGk=\"",
			func(b *byteArrayOut) any { return base64.StdEncoding.EncodeToString(b.Bytes()) }},
		{"size", "The number of bytes written. E.g. (size s) ;; => 2",
			func(b *byteArrayOut) any { return b.Size() }},
		{"reset", "Empties the stream. E.g. (reset s)",
			func(b *byteArrayOut) any { b.Reset(); return nil }},
		{"close", "Has no effect, as in Java. E.g. (close s)",
			func(b *byteArrayOut) any { return nil }},
	}
	for _, s := range simple {
		s := s
		ns.Add(&pod.Var{Name: s.name, MinArgs: 1, MaxArgs: 1, Doc: s.doc, Arglists: []string{"[stream]"},
			Fn: func(c *pod.Call) (any, error) {
				b, err := a.byteArrayOut(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				return s.fn(b), nil
			}})
	}
}
