package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"olympos.io/encoding/edn"
)

// Options configure a Server. Zero values mean defaults.
type Options struct {
	// ID is the pod id: the name of the first namespace in describe,
	// which client code passes to babashka.pods/invoke. Required.
	ID string
	// ErrorType is the :type of errors that carry none of their own, e.g.
	// "bbssh/error"; its namespace also qualifies the protocol's own
	// error types (bad-argument, unknown-var...). Default "pod/error".
	ErrorType string
	// Logf, when set, receives diagnostics (never argument values).
	Logf func(format string, args ...any)
}

// Server answers pod requests with the registered vars.
type Server struct {
	opts       Options
	namespaces []*Namespace
	vars       map[string]*Var
	holds      *Registry // see HoldHandles
}

// HoldHandles makes every call hold the handles of reg named in its
// arguments while it runs, so that a handle the client drops meanwhile
// is not freed under the call (see Registry.HoldText).
func (s *Server) HoldHandles(reg *Registry) { s.holds = reg }

// NewServer returns a Server with no namespaces.
func NewServer(opts Options) *Server {
	if opts.ErrorType == "" {
		opts.ErrorType = "pod/error"
	}
	return &Server{opts: opts, vars: map[string]*Var{}}
}

// Namespace returns the namespace called name, creating it at the end of
// the describe order if it is new. Client code in one namespace may require
// only namespaces created before it.
func (s *Server) Namespace(name string) *Namespace {
	for _, ns := range s.namespaces {
		if ns.name == name {
			return ns
		}
	}
	ns := &Namespace{name: name, srv: s}
	s.namespaces = append(s.namespaces, ns)
	return ns
}

// Call is one invoke being answered.
type Call struct {
	// Ctx is cancelled when the client goes away or shuts the pod down.
	Ctx context.Context
	// ID is the invoke id chosen by the client.
	ID string
	// Var is the fully qualified var name.
	Var string
	// Args are the decoded arguments.
	Args Args

	w    *Writer
	mu   sync.Mutex
	done bool
}

// Send sends one value of a streaming call to the client's :success handler.
func (c *Call) Send(v any) error {
	payload, err := edn.Marshal(v)
	if err != nil {
		return fmt.Errorf("pod: encode value of %s: %w", c.Var, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return fmt.Errorf("pod: send on finished call %s", c.Var)
	}
	return c.w.Write(map[string]any{"id": c.ID, "value": string(payload), "status": []any{}})
}

// Out prints text on the client's *out*.
func (c *Call) Out(text string) error {
	return c.w.Write(map[string]any{"id": c.ID, "out": text})
}

// Err prints text on the client's *err*.
func (c *Call) Err(text string) error {
	return c.w.Write(map[string]any{"id": c.ID, "err": text})
}

// finish sends the final reply once.
func (c *Call) finish(reply map[string]any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil
	}
	c.done = true
	reply["id"] = c.ID
	return c.w.Write(reply)
}

// Serve reads requests from r and writes replies to w until the client
// sends shutdown, closes the stream, or ctx ends. It returns nil on a clean
// end. Calls still running when it returns see their Ctx cancelled; Serve
// waits for them at most until they return.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reader, writer := NewReader(r), NewWriter(w)
	for {
		msg, err := reader.Read()
		if errors.Is(err, io.EOF) {
			s.logf("client closed the stream")
			return nil
		}
		if errors.Is(err, ErrTooLarge) {
			// The frame was read to its end without keeping what was
			// too large: refuse it and go on.
			s.logf("refused a request: %v", err)
			if werr := writer.Write(s.errorReply(msg.ID, Errorf("too-large", "%w", err))); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			// A bencode stream cannot be resynchronised after a bad
			// frame: stop rather than guess.
			return err
		}
		switch msg.Op {
		case "describe":
			if err := writer.Write(withID(s.describe(), msg.ID)); err != nil {
				return err
			}
		case "invoke":
			call := &Call{Ctx: ctx, ID: msg.ID, Var: msg.Var, w: writer}
			release := func() {}
			if s.holds != nil {
				release = s.holds.HoldText(msg.Args)
			}
			go s.invoke(call, msg.Args, release)
		case "shutdown":
			s.logf("shutdown requested")
			return nil
		case "load-ns":
			// No namespace is deferred, so every namespace is already
			// loaded: answer with it as the protocol asks.
			if err := writer.Write(map[string]any{"id": msg.ID, "name": msg.NS, "vars": []any{}, "status": []any{"done"}}); err != nil {
				return err
			}
		default:
			err := Errorf("unknown-op", "unknown op %q", msg.Op)
			if werr := writer.Write(s.errorReply(msg.ID, err)); werr != nil {
				return werr
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func withID(m map[string]any, id string) map[string]any {
	if id != "" {
		m["id"] = id
	}
	return m
}

// invoke runs one call and sends its final reply. It never lets a panic
// escape: a panicking var is answered with an internal error.
func (s *Server) invoke(c *Call, rawArgs string, release func()) {
	defer release()
	defer func() {
		if p := recover(); p != nil {
			s.logf("panic in %s: %v\n%s", c.Var, p, debug.Stack())
			_ = c.finish(s.errorReply("", Errorf("internal-error", "internal error in %s: %v", c.Var, p)))
		}
	}()
	v, ok := s.vars[c.Var]
	if !ok {
		_ = c.finish(s.errorReply("", Errorf("unknown-var", "var not found: %s", c.Var).With("var", edn.Symbol(c.Var))))
		return
	}
	args, err := decodeArgs(rawArgs)
	if err != nil {
		_ = c.finish(s.errorReply("", Errorf(BadArgument, "cannot read the arguments of %s: %v", c.Var, err)))
		return
	}
	if err := v.checkArity(c.Var, len(args)); err != nil {
		_ = c.finish(s.errorReply("", err))
		return
	}
	c.Args = args
	if v.Stream != nil {
		if err := v.Stream(c); err != nil {
			_ = c.finish(s.errorReply("", err))
			return
		}
		_ = c.finish(map[string]any{"status": []any{"done"}})
		return
	}
	result, err := v.Fn(c)
	if err != nil {
		_ = c.finish(s.errorReply("", err))
		return
	}
	payload, err := edn.Marshal(result)
	if err != nil {
		_ = c.finish(s.errorReply("", Errorf("internal-error", "cannot encode the result of %s: %v", c.Var, err)))
		return
	}
	_ = c.finish(map[string]any{"value": string(payload), "status": []any{"done"}})
}

func (v *Var) checkArity(full string, n int) error {
	if n >= v.MinArgs && (v.MaxArgs < 0 || n <= v.MaxArgs) {
		return nil
	}
	var want string
	switch {
	case v.MaxArgs < 0:
		want = fmt.Sprintf("at least %d", v.MinArgs)
	case v.MinArgs == v.MaxArgs:
		want = fmt.Sprint(v.MinArgs)
	default:
		want = fmt.Sprintf("%d to %d", v.MinArgs, v.MaxArgs)
	}
	return Errorf("arity", "wrong number of args (%d) passed to %s, expected %s", n, full, want)
}

// errorReply renders err as an error reply.
func (s *Server) errorReply(id string, err error) map[string]any {
	msg, data := exData(err, s.opts.ErrorType)
	payload, merr := edn.Marshal(data)
	if merr != nil {
		payload = []byte(fmt.Sprintf("{:type %s}", ":"+s.opts.ErrorType))
	}
	return withID(map[string]any{
		"ex-message": msg,
		"ex-data":    string(payload),
		"status":     []any{"done", "error"},
	}, id)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(strings.TrimSuffix(format, "\n"), args...)
	}
}
