package api

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"bbssh/bbssh"
	"bbssh/pod"
)

// A command started by exec, seen as bbssh 0.6 scripts see it: the
// :channel of an SshProcess is a channel-exec handle, on which they call
// channel-exec/is-closed, is-connected, get-exit-status, wait,
// send-signal and disconnect. The handle's object is an execView of the
// command; the exec namespace's vars take it as the process itself.

// execView is a process as a channel-exec.
type execView struct {
	p            *process
	id           int
	disconnected atomic.Bool
}

// execLike is what the channel-exec vars that look at or end a running
// command need: a channel of open-channel or a command of exec.
type execLike interface {
	State() bbssh.ExecState
	ID() int
	Signal(name string) error
	Wait(ctx context.Context) (int, error)
	Disconnect() error
}

func (v *execView) State() bbssh.ExecState {
	st := v.p.State()
	if v.disconnected.Load() && st.Connected {
		st.Connected, st.Closed = false, true
	}
	return st
}

func (v *execView) ID() int                  { return v.id }
func (v *execView) Signal(name string) error { return v.p.Signal(name) }

// Wait returns the exit status as channel-exec/wait does: -1 for a
// command killed by a signal, an error when it ended without a status.
func (v *execView) Wait(ctx context.Context) (int, error) {
	r, err := v.p.waitAll(ctx)
	if err != nil {
		return -1, err
	}
	if r.Err != nil {
		return -1, r.Err
	}
	return r.ExitCode, nil
}

// Disconnect closes the command's channel, as channel-exec/disconnect.
// (No Close method: dropping the view's handle must not end a command
// whose process handle is still in use.)
func (v *execView) Disconnect() error {
	v.disconnected.Store(true)
	return v.p.Close()
}

// execLikeOf returns the channel or command behind a channel-exec handle.
func (a *API) execLikeOf(v any) (execLike, error) {
	if _, obj, err := a.reg.Lookup(v); err == nil {
		if view, ok := obj.(*execView); ok {
			return view, nil
		}
	}
	return a.channelExec(v)
}

// viewedProcess returns the process behind a channel-exec handle made by
// exec, if v is one.
func (a *API) viewedProcess(v any) (*process, bool) {
	if _, obj, err := a.reg.Lookup(v); err == nil {
		if view, ok := obj.(*execView); ok {
			return view.p, true
		}
	}
	return nil, false
}

// execStdinStream reads the :in-handle exec option: a pod input stream
// (input-stream, byte-array-input-stream, a stream of new-pod-proxy or
// of a channel) to feed the command's stdin, as 0.6's `:in` given a pod
// stream. Nil when absent.
func (a *API) execStdinStream(m pod.Map) (inStream, error) {
	v, ok := m.Get("in-handle")
	if !ok || v == nil {
		return nil, nil
	}
	in, err := a.inStreamOf(v)
	if err != nil {
		return nil, badOption(":in must be a pod input stream here: %v", err)
	}
	return in, nil
}

// feedStdin copies in to the command's stdin until in ends, which sends
// end of file, or the command ends; then in is closed, as a channel
// closes the stream set on it.
func (a *API) feedStdin(p *process, in inStream) {
	a.reg.Depend(p, in) // the stream lives while the command may read it
	go func() {
		w := p.Stdin()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-p.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		buf := make([]byte, 32<<10)
		for {
			n, err := in.readCtx(ctx, buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		w.Close()
		<-p.Done()
		in.Close()
	}()
}

func (a *API) registerExecChannel(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "channel-exec", MinArgs: 1, MaxArgs: 1,
		Doc: "The process as a channel-exec handle (bbssh 0.6's SshProcess :channel): channel-exec/is-closed, is-connected, get-exit-status, wait, " +
			"send-signal and disconnect work on it, and this namespace's vars take it as the process. E.g. (channel-exec p) ;; => :bbssh/channel-exec-8",
		Arglists: []string{"[process]"},
		Fn: func(c *pod.Call) (any, error) {
			p, err := a.process(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			// one view per process, so that its handle is the same on
			// every call
			view := &execView{p: p, id: bbssh.NewChannelID()}
			if !p.view.CompareAndSwap(nil, view) {
				return a.reg.Put("channel-exec", p.view.Load()), nil
			}
			h := a.reg.Put("channel-exec", view)
			a.reg.Depend(view, p)
			a.own(p.Session(), h) // released with the session, as the process
			return h, nil
		}})
}

// execOutputStreams reads the :out-handle and :err-handle exec options:
// pod output streams (output-stream/new, byte-array-output-stream/new,
// new-pod-proxy ...) that get the command's stdout and stderr, as 0.6's
// `:out` and `:err` given a pod stream. Their output is streamed.
func (a *API) execOutputStreams(m pod.Map, o *bbssh.ExecOptions) ([2]outStream, error) {
	var outs [2]outStream
	for i, key := range []string{"out-handle", "err-handle"} {
		v, ok := m.Get(key)
		if !ok || v == nil {
			continue
		}
		out, err := a.outStreamOf(v)
		if err != nil {
			return outs, badOption(":%s must be a pod output stream here: %v", key[:3], err)
		}
		outs[i] = out
		if i == 0 {
			o.Stdout = bbssh.Stream
		} else {
			o.Stderr = bbssh.Stream
		}
	}
	return outs, nil
}

// copyOutputs copies stdout and stderr into the pod streams outs (either
// may be nil) until their end, then closes each, as a channel closes the
// streams set on it; p.copied is closed once both are done.
func (a *API) copyOutputs(p *process, outs [2]outStream) {
	if outs[0] == nil && outs[1] == nil {
		return
	}
	p.copied = make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range []io.Reader{p.Stdout(), p.Stderr()} {
		out := outs[i]
		if out == nil || r == nil {
			continue
		}
		a.reg.Depend(p, out) // the stream lives while the command writes it
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer out.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					if _, werr := out.writeCtx(context.Background(), buf[:n]); werr != nil {
						io.Copy(io.Discard, r) // the command must not stall on a stream gone
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(p.copied)
	}()
}

// waitAll waits for the command's end and for its output to be in the
// pod streams it is copied to.
func (p *process) waitAll(ctx context.Context) (bbssh.Result, error) {
	// What has ended answers even a context that has (a timeout of 0).
	r, ended := p.Exited()
	if !ended {
		var err error
		if r, err = p.Wait(ctx); err != nil {
			return r, err
		}
	}
	if p.copied == nil || isDone(p.copied) {
		return r, nil
	}
	select {
	case <-p.copied:
		return r, nil
	case <-ctx.Done():
		return bbssh.Result{}, ctx.Err()
	}
}
