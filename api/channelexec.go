package api

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// The low-level exec channel of bbssh 0.6 (pod.epiccastle.bbssh.channel-exec,
// JSch's ChannelExec): made by session/open-channel, configured by
// setters, wired to pod streams, then connected.

// channelExec is an exec channel with the pod streams wired to it.
type channelExec struct {
	*bbssh.ExecChannel

	mu      sync.Mutex
	set     [3]any   // the streams set for stdin, stdout, stderr (dependencies)
	out     *pipeIn  // get-input-stream's pipe (stdout)
	errPipe *pipeIn  // get-error-stream's pipe (stderr)
	in      *pipeOut // get-output-stream's pipe (stdin)
}

// streamReader lets the channel read a pod input stream.
type streamReader struct{ in inStream }

func (r streamReader) Read(p []byte) (int, error) { return r.in.readCtx(context.Background(), p) }
func (r streamReader) ReadContext(ctx context.Context, p []byte) (int, error) {
	return r.in.readCtx(ctx, p)
}
func (r streamReader) Close() error { return r.in.Close() }

// streamWriter lets the channel write a pod output stream.
type streamWriter struct{ out outStream }

func (w streamWriter) Write(p []byte) (int, error) { return w.out.writeCtx(context.Background(), p) }
func (w streamWriter) WriteContext(ctx context.Context, p []byte) (int, error) {
	return w.out.writeCtx(ctx, p)
}
func (w streamWriter) Close() error { return w.out.Close() }

// pipeFeed fills a pipe from the channel; closing it ends the pipe's
// stream.
type pipeFeed struct{ p *pipeIn }

func (f pipeFeed) Write(b []byte) (int, error) { return f.p.put(context.Background(), b) }
func (f pipeFeed) WriteContext(ctx context.Context, b []byte) (int, error) {
	return f.p.put(ctx, b)
}
func (f pipeFeed) Close() error { f.p.endWrite(); return nil }

func (a *API) channelExec(v any) (*channelExec, error) {
	if _, ok := a.viewedProcess(v); ok {
		return nil, badOption("channel %s is the command of bbssh/exec, already running with the streams and settings exec gave it: "+
			"only is-closed, is-connected, is-eof, get-exit-status, get-id, wait, send-signal and disconnect apply", v)
	}
	obj, err := a.reg.Get("channel-exec", v)
	if err != nil {
		return nil, err
	}
	return obj.(*channelExec), nil
}

// setStream records the stream now set for slot i, so that it lives as
// long as the channel.
func (a *API) setStream(ch *channelExec, i int, stream any) {
	ch.mu.Lock()
	old := ch.set[i]
	ch.set[i] = stream
	ch.mu.Unlock()
	if stream != nil {
		a.reg.Depend(ch, stream)
	}
	if old != nil && old != stream {
		a.reg.Undepend(ch, old)
	}
}

// boolArg reads argument i as a boolean; nil is false.
func boolArg(c *pod.Call, i int) (bool, error) {
	switch v := c.Args.Get(i).(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	}
	return false, badOption("argument %d of %s must be true or false, got %s", i+1, c.Var, pod.Describe(c.Args.Get(i)))
}

// intArgs reads arguments from..from+n-1 as ints.
func intArgs(c *pod.Call, from, n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		v, err := c.Args.Int(from + i)
		if err != nil {
			return nil, err
		}
		out[i] = int(v)
	}
	return out, nil
}

func (a *API) registerChannelExec(ns, session *pod.Namespace) {
	session.Add(&pod.Var{Name: "open-channel", MinArgs: 2, MaxArgs: 2,
		Doc:      "Makes an unconnected channel of a connected session; only \"exec\" channels exist. E.g. (open-channel s \"exec\") ;; => :bbssh/channel-exec-4",
		Arglists: []string{"[session type]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			typ, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			if typ != "exec" {
				return nil, pod.Errorf(ErrorNS+"/unsupported", "channel type %q is not supported: bbssh has \"exec\" channels (channel-exec); use bbssh/exec for a shell command, the sftp namespace for files", typ)
			}
			ec, err := s.NewExecChannel()
			if err != nil {
				return nil, engineError(err)
			}
			ch := &channelExec{ExecChannel: ec}
			h := a.reg.Put("channel-exec", ch)
			a.reg.Depend(ch, s)
			return h, nil
		}})

	// setter adds a var that configures the channel.
	setter := func(name, doc string, arglists []string, min, max int, set func(c *pod.Call, ch *channelExec) error) {
		ns.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				ch, err := a.channelExec(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				return nil, engineError(set(c, ch))
			}})
	}
	setter("set-command", "Sets the command line connect runs. E.g. (set-command ch \"uname -a\")",
		[]string{"[channel command]"}, 2, 2, func(c *pod.Call, ch *channelExec) error {
			cmd, err := c.Args.String(1)
			if err != nil {
				return err
			}
			return ch.SetCommand(cmd)
		})
	setter("set-env", "Sets an environment variable for the command; the server's AcceptEnv decides. E.g. (set-env ch \"LANG\" \"C\")",
		[]string{"[channel name value]"}, 3, 3, func(c *pod.Call, ch *channelExec) error {
			name, err := c.Args.String(1)
			if err != nil {
				return err
			}
			value, err := c.Args.String(2)
			if err != nil {
				return err
			}
			return ch.SetEnv(name, value)
		})
	setter("set-pty", "Asks for a pseudo-terminal (vt100, 80x24 unless set). E.g. (set-pty ch true)",
		[]string{"[channel enable]"}, 2, 2, func(c *pod.Call, ch *channelExec) error {
			on, err := boolArg(c, 1)
			if err != nil {
				return err
			}
			return ch.SetPty(on)
		})
	setter("set-pty-size", "Sets the pty's size in characters and pixels; on a running command it sends a window change. E.g. (set-pty-size ch 132 43 1056 688)",
		[]string{"[channel cols rows width-px height-px]"}, 5, 5, func(c *pod.Call, ch *channelExec) error {
			n, err := intArgs(c, 1, 4)
			if err != nil {
				return err
			}
			return ch.SetPtySize(n[0], n[1], n[2], n[3])
		})
	setter("set-pty-type", "Sets the pty's terminal type, and its size when given. E.g. (set-pty-type ch \"xterm\" 80 24 640 480)",
		[]string{"[channel type]", "[channel type cols rows width-px height-px]"}, 2, 6, func(c *pod.Call, ch *channelExec) error {
			term, err := c.Args.String(1)
			if err != nil {
				return err
			}
			switch c.Args.Len() {
			case 2:
				return ch.SetPtyType(term, nil)
			case 6:
				n, err := intArgs(c, 2, 4)
				if err != nil {
					return err
				}
				return ch.SetPtyType(term, &bbssh.PtyOptions{Cols: n[0], Rows: n[1], Width: n[2], Height: n[3]})
			}
			return pod.Errorf("arity", "set-pty-type takes a type, or a type, cols, rows, width and height")
		})
	setter("set-terminal-mode", "Sets the pty's encoded terminal modes (base64 of opcode, uint32 value ..., 0). E.g. (set-terminal-mode ch \"NQAAAAAA\")",
		[]string{"[channel modes-base64]"}, 2, 2, func(c *pod.Call, ch *channelExec) error {
			modes, err := bytesArg(c, 1)
			if err != nil {
				return err
			}
			return ch.SetTerminalModes(modes)
		})
	setter("set-agent-forwarding", "Forwards the local ssh-agent to the command (ssh -A). E.g. (set-agent-forwarding ch true)",
		[]string{"[channel enable]"}, 2, 2, func(c *pod.Call, ch *channelExec) error {
			on, err := boolArg(c, 1)
			if err != nil {
				return err
			}
			return ch.SetAgentForwarding(on)
		})
	setter("set-x-forwarding", "X11 forwarding (ssh -X): as ssh, nothing is asked for when DISPLAY is not set; with a DISPLAY it is unsupported. E.g. (set-x-forwarding ch false)",
		[]string{"[channel enable]"}, 2, 2, func(c *pod.Call, ch *channelExec) error {
			on, err := boolArg(c, 1)
			if err != nil {
				return err
			}
			if on && os.Getenv("DISPLAY") != "" {
				return pod.Errorf(ErrorNS+"/unsupported", "X11 forwarding is not supported by bbssh (DISPLAY is %q): run ssh -X, or forward the X server's port or socket with set-port-forwarding-remote", os.Getenv("DISPLAY"))
			}
			return nil
		})

	streamSetter := func(name, what string, slot int) {
		ns.Add(&pod.Var{Name: name, MinArgs: 2, MaxArgs: 3,
			Doc:      "Sets the command's " + what + " to a pod stream (nil: none); unless dont-close, the stream is closed when the channel is done with it. E.g. (" + name + " ch s false)",
			Arglists: []string{"[channel stream]", "[channel stream dont-close]"},
			Fn: func(c *pod.Call) (any, error) {
				ch, err := a.channelExec(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				keep, err := boolArg(c, 2)
				if err != nil {
					return nil, err
				}
				v := c.Args.Get(1)
				var stream any
				if slot == 0 {
					var r io.Reader
					if v != nil {
						in, err := a.inStreamOf(v)
						if err != nil {
							return nil, err
						}
						r, stream = streamReader{in}, in
					}
					err = ch.SetStdin(r, keep)
				} else {
					var w io.Writer
					if v != nil {
						out, err := a.outStreamOf(v)
						if err != nil {
							return nil, err
						}
						w, stream = streamWriter{out}, out
					}
					if slot == 1 {
						err = ch.SetStdout(w, keep)
					} else {
						err = ch.SetStderr(w, keep)
					}
				}
				if err != nil {
					return nil, engineError(err)
				}
				a.setStream(ch, slot, stream)
				ch.mu.Lock()
				switch slot { // the channel's own pipe is replaced
				case 0:
					ch.in = nil
				case 1:
					ch.out = nil
				case 2:
					ch.errPipe = nil
				}
				ch.mu.Unlock()
				return nil, nil
			}})
	}
	streamSetter("set-input-stream", "stdin", 0)
	streamSetter("set-output-stream", "stdout", 1)
	streamSetter("set-error-stream", "stderr", 2)

	ns.Add(&pod.Var{Name: "get-input-stream", MinArgs: 1, MaxArgs: 1,
		Doc:      "The command's stdout as an input stream to read (call before connect); the same stream on every call. E.g. (get-input-stream ch) ;; => :bbssh/input-stream-5",
		Arglists: []string{"[channel]"},
		Fn: func(c *pod.Call) (any, error) {
			return a.channelPipe(c, 1)
		}})
	ns.Add(&pod.Var{Name: "get-error-stream", MinArgs: 1, MaxArgs: 1,
		Doc:      "The command's stderr as an input stream to read (call before connect). E.g. (get-error-stream ch)",
		Arglists: []string{"[channel]"},
		Fn: func(c *pod.Call) (any, error) {
			return a.channelPipe(c, 2)
		}})
	ns.Add(&pod.Var{Name: "get-output-stream", MinArgs: 1, MaxArgs: 1,
		Doc:      "The command's stdin as an output stream to write, whose close sends end of file (call before connect). E.g. (get-output-stream ch)",
		Arglists: []string{"[channel]"},
		Fn: func(c *pod.Call) (any, error) {
			return a.channelPipe(c, 0)
		}})

	ns.Add(&pod.Var{Name: "connect", MinArgs: 1, MaxArgs: 1,
		Doc:      "Opens the channel and runs its command. E.g. (connect ch)",
		Arglists: []string{"[channel]"},
		Fn: func(c *pod.Call) (any, error) {
			ch, err := a.channelExec(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, engineError(ch.Connect(c.Ctx))
		}})
	ns.Add(&pod.Var{Name: "disconnect", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the channel; a running command gets a hangup. E.g. (disconnect ch)",
		Arglists: []string{"[channel]"},
		Fn: func(c *pod.Call) (any, error) {
			ch, err := a.execLikeOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return nil, engineError(ch.Disconnect())
		}})
	state := func(name, doc string, get func(bbssh.ExecState, execLike) any) {
		ns.Add(&pod.Var{Name: name, MinArgs: 1, MaxArgs: 1, Doc: doc, Arglists: []string{"[channel]"},
			Fn: func(c *pod.Call) (any, error) {
				ch, err := a.execLikeOf(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				return get(ch.State(), ch), nil
			}})
	}
	state("is-closed", "True once the channel is closed (the command ended or disconnect). E.g. (is-closed ch) ;; => false",
		func(s bbssh.ExecState, _ execLike) any { return s.Closed })
	state("is-connected", "True while the channel is connected and open. E.g. (is-connected ch) ;; => true",
		func(s bbssh.ExecState, _ execLike) any { return s.Connected })
	state("is-eof", "True once the command's stdout has ended. E.g. (is-eof ch) ;; => true",
		func(s bbssh.ExecState, _ execLike) any { return s.EOF })
	state("get-exit-status", "The command's exit status, -1 until it is known (and for a command killed by a signal). E.g. (get-exit-status ch) ;; => 0",
		func(s bbssh.ExecState, _ execLike) any { return s.Exit })
	state("get-id", "The channel's number. E.g. (get-id ch) ;; => 0",
		func(_ bbssh.ExecState, ch execLike) any { return ch.ID() })
	ns.Add(&pod.Var{Name: "send-signal", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sends a signal (\"TERM\", \"KILL\", \"INT\", ...) to the command. E.g. (send-signal ch \"TERM\")",
		Arglists: []string{"[channel signal]"},
		Fn: func(c *pod.Call) (any, error) {
			ch, err := a.execLikeOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			sig, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			return nil, engineError(ch.Signal(sig))
		}})
	ns.Add(&pod.Var{Name: "wait", MinArgs: 1, MaxArgs: 2,
		Doc: "Waits until the command has ended and its output is delivered; returns the exit status (-1 when killed by a signal). " +
			"With a timeout in ms it returns nil when that passes (at once for <= 0). Throws :bbssh/closed when the channel ended without an exit status. E.g. (wait ch 10000) ;; => 0",
		Arglists: []string{"[channel]", "[channel timeout-ms]"},
		Fn: func(c *pod.Call) (any, error) {
			ch, err := a.execLikeOf(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			ctx := c.Ctx
			if v := c.Args.Get(1); v != nil {
				ms, err := pod.AsInt("timeout", v)
				if err != nil {
					return nil, err
				}
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(max(ms, 0))*time.Millisecond)
				defer cancel()
			}
			exit, err := ch.Wait(ctx)
			if err != nil {
				if ctx.Err() == context.DeadlineExceeded && c.Ctx.Err() == nil {
					return nil, nil
				}
				return nil, engineError(err)
			}
			return exit, nil
		}})
}

// channelPipe returns the channel's own pipe for slot 0 (stdin, an
// output stream), 1 (stdout) or 2 (stderr), made on first use.
func (a *API) channelPipe(c *pod.Call, slot int) (any, error) {
	ch, err := a.channelExec(c.Args.Get(0))
	if err != nil {
		return nil, err
	}
	ch.mu.Lock()
	var obj any
	var made bool
	switch slot {
	case 0:
		if ch.in == nil {
			p := newPipeIn(0)
			o := &pipeOut{}
			o.connect(p)
			if err := ch.SetStdin(streamReader{p}, false); err != nil {
				ch.mu.Unlock()
				return nil, engineError(err)
			}
			ch.in, made = o, true
		}
		obj = ch.in
	default:
		pp, set := &ch.out, ch.SetStdout
		if slot == 2 {
			pp, set = &ch.errPipe, ch.SetStderr
		}
		if *pp == nil {
			p := newPipeIn(0)
			p.connect()
			if err := set(pipeFeed{p}, false); err != nil {
				ch.mu.Unlock()
				return nil, engineError(err)
			}
			*pp, made = p, true
		}
		obj = *pp
	}
	ch.mu.Unlock()
	if made {
		a.setStream(ch, slot, nil) // the stream set before is replaced
	}
	kind := "input-stream"
	if slot == 0 {
		kind = "output-stream"
	}
	return a.reg.Put(kind, obj), nil
}
