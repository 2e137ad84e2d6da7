package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"bbssh/bbssh"
	"bbssh/pod"
)

// maxRead bounds one read of a command's output: large enough that bulk
// output takes few round trips, small enough to bound memory per call.
const maxRead = 1 << 20

// process is a remote command as the client sees it.
type process struct {
	*bbssh.Process
	readMu sync.Mutex // one reader per stream at a time keeps chunks in order
	// view is the process as a channel-exec, once asked for
	// (execchannel.go).
	view atomic.Pointer[execView]
	// copied, when set, is closed once stdout and stderr have been
	// copied into the pod streams given as :out-handle / :err-handle.
	copied chan struct{}
}

func (a *API) process(v any) (*process, error) {
	if p, ok := a.viewedProcess(v); ok {
		return p, nil
	}
	obj, err := a.reg.Get("process", v)
	if err != nil {
		return nil, err
	}
	return obj.(*process), nil
}

func outputMode(m pod.Map, key string) (bbssh.OutputMode, error) {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return bbssh.Stream, nil
	}
	kw, err := pod.AsKeyword(":"+key, v)
	if err != nil {
		return 0, err
	}
	switch kw {
	case "stream":
		return bbssh.Stream, nil
	case "capture":
		return bbssh.Capture, nil
	case "discard":
		return bbssh.Discard, nil
	}
	return 0, badOption(":%s must be :stream, :capture or :discard, got :%s", key, kw)
}

func parseExecOptions(cmd string, m pod.Map) (o bbssh.ExecOptions, err error) {
	defer asBadOption(&err)
	o.Command = cmd
	if o.Stdout, err = outputMode(m, "out"); err != nil {
		return o, err
	}
	if o.Stderr, err = outputMode(m, "err"); err != nil {
		return o, err
	}
	o.Stdin = m.Bool("in-stream", false)
	if data, err := m.String("in-data", ""); err != nil {
		return o, err
	} else if data != "" {
		if o.StdinData, err = base64.StdEncoding.DecodeString(data); err != nil {
			return o, badOption(":in bytes are not valid base64")
		}
	}
	if v, ok := m.Get("pty"); ok && v != nil {
		switch p := v.(type) {
		case bool:
			o.Pty = p
		case map[any]any:
			pm := pod.Map(p)
			o.Pty = true
			if o.Term, err = pm.String("term", ""); err != nil {
				return o, err
			}
			cols, err := pm.Int("cols", 0)
			if err != nil {
				return o, err
			}
			rows, err := pm.Int("rows", 0)
			if err != nil {
				return o, err
			}
			o.Cols, o.Rows = int(cols), int(rows)
		default:
			return o, badOption(":pty must be true, false or a map {:term :cols :rows}, got %s", pod.Describe(v))
		}
	}
	if v, ok := m.Get("env"); ok && v != nil {
		em, err := pod.AsMap(":env", v)
		if err != nil {
			return o, err
		}
		o.Env = map[string]string{}
		for k, val := range em {
			name, err := envName(k)
			if err != nil {
				return o, err
			}
			s, err := pod.AsString(":env value of "+name, val)
			if err != nil {
				return o, err
			}
			o.Env[name] = s
		}
	}
	o.AgentForwarding = m.Bool("agent-forwarding", false)
	return o, nil
}

func envName(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	default:
		if kw, err := pod.AsKeyword(":env key", k); err == nil {
			return kw, nil
		}
	}
	return "", badOption(":env keys must be strings or keywords, got %s", pod.Describe(k))
}

func (a *API) registerExec(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "start", MinArgs: 2, MaxArgs: 3,
		Doc:      "Starts command on the session; returns a process handle. Stdin is :in-data (base64), :in-stream true (written with write and close-in), or :in-handle, a pod input stream read to its end; :out-handle / :err-handle copy the output into pod output streams. E.g. (start s \"ls /\" {:out :capture :err :stream})",
		Arglists: []string{"[session command]", "[session command opts]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			cmd, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			m, err := c.Args.Map(2)
			if err != nil {
				return nil, err
			}
			o, err := parseExecOptions(cmd, m)
			if err != nil {
				return nil, err
			}
			in, err := a.execStdinStream(m)
			if err != nil {
				return nil, err
			}
			o.Stdin = o.Stdin || in != nil
			outs, err := a.execOutputStreams(m, &o)
			if err != nil {
				return nil, err
			}
			p, err := s.Exec(c.Ctx, o)
			if err != nil {
				return nil, engineError(err)
			}
			proc := &process{Process: p}
			h := a.reg.Put("process", proc)
			a.own(s, h)
			if in != nil {
				a.feedStdin(proc, in)
			}
			a.copyOutputs(proc, outs)
			return h, nil
		}})
	ns.Add(&pod.Var{Name: "channel", MinArgs: 2, MaxArgs: 2,
		Doc:      "Offers the process's :out, :err or :in stream on a loopback data channel: returns {:port :token}; connect, send the token and a newline, then read (or write) raw bytes. E.g. (channel p :out) ;; => {:port 40123 :token \"9f...\"}",
		Arglists: []string{"[process stream]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			which, err := pod.AsKeyword("stream", c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			var r io.Reader
			switch which {
			case "out":
				r = p.Stdout()
			case "err":
				r = p.Stderr()
			case "in":
				if p.Stdin() == nil {
					return nil, badOption("the process's stdin is not a stream")
				}
				waitEnd := func(ctx context.Context) { p.Wait(ctx) }
				return offerDataChannel(copyFromChannelUntil(p.Stdin(), waitEnd), func() { p.Stdin().Close() })
			default:
				return nil, badOption("stream must be :out, :err or :in, got :%s", which)
			}
			if r == nil {
				return nil, badOption("the process's %s is not a stream", which)
			}
			return offerDataChannel(copyToChannel(r), func() { io.Copy(io.Discard, r) })
		}})
	ns.Add(&pod.Var{Name: "read", MinArgs: 3, MaxArgs: 3,
		Doc:      "Reads up to n bytes (at most 1 MiB) of the :out or :err stream; blocks until some arrive. Returns base64, or nil at end of stream. E.g. (read p :out 65536)",
		Arglists: []string{"[process stream n]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			which, err := pod.AsKeyword("stream", c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			n, err := c.Args.Int(2)
			if err != nil {
				return nil, err
			}
			if n < 1 {
				return nil, badOption("n must be at least 1, got %d", n)
			}
			n = min(n, maxRead)
			var r io.Reader
			switch which {
			case "out":
				r = p.Stdout()
			case "err":
				r = p.Stderr()
			default:
				return nil, badOption("stream must be :out or :err, got :%s", which)
			}
			if r == nil {
				return nil, badOption("the process's %s is not a stream", which)
			}
			p.readMu.Lock()
			defer p.readMu.Unlock()
			buf := make([]byte, n)
			for {
				k, err := r.Read(buf)
				if k > 0 {
					return base64.StdEncoding.EncodeToString(buf[:k]), nil
				}
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				if err != nil {
					return nil, engineError(err)
				}
			}
		}})
	ns.Add(&pod.Var{Name: "write", MinArgs: 2, MaxArgs: 2,
		Doc:      "Writes base64-encoded bytes to the process's stdin (opened with :in-stream). E.g. (write p \"aGkK\")",
		Arglists: []string{"[process b64]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			if p.Stdin() == nil {
				return nil, badOption("the process's stdin is not a stream")
			}
			if _, err := p.Stdin().Write(data); err != nil {
				return nil, engineError(err)
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "close-in", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the process's stdin: the command reads end of file. E.g. (close-in p)",
		Arglists: []string{"[process]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			if p.Stdin() != nil {
				p.Stdin().Close()
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "wait", MinArgs: 1, MaxArgs: 1,
		Doc:      "Blocks until the command ends; returns {:exit n :signal s :out b64 :err b64} (output only when captured). E.g. (wait p) ;; => {:exit 0}",
		Arglists: []string{"[process]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			r, err := p.waitAll(c.Ctx)
			if err != nil {
				return nil, engineError(err)
			}
			if r.Err != nil {
				return nil, engineError(r.Err)
			}
			res := map[any]any{kw("exit"): r.ExitCode}
			if r.Signal != "" {
				res[kw("signal")] = r.Signal
			}
			res[kw("out")] = base64.StdEncoding.EncodeToString(r.Stdout)
			res[kw("err")] = base64.StdEncoding.EncodeToString(r.Stderr)
			return res, nil
		}})
	ns.Add(&pod.Var{Name: "signal", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sends a signal (\"TERM\", \"KILL\", \"INT\", ...) to the command. E.g. (signal p \"TERM\")",
		Arglists: []string{"[process signal]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			sig, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			return nil, engineError(p.Signal(sig))
		}})
}
