package api

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// scp runs in the pod: local files are read and written by the pod
// itself, so bulk bytes never cross the pod protocol; only data given as
// bytes or as a bb InputStream does (the latter through an input handle
// the client pumps). Progress goes back as events on the streaming call.

// scpErrorTypes are bbssh 0.6's ex-data types for errors the remote scp
// reports, so that scripts catching them keep working.
var scpErrorTypes = map[int]string{
	1:  "pod.epiccastle.bbssh.scp/scp-error",
	2:  "pod.epiccastle.bbssh.scp/scp-fatal-error",
	-1: "pod.epiccastle.bbssh.scp/scp-disconnect",
}

// transferError gives scp protocol errors 0.6's types, and everything else
// the engine's.
func transferError(err error) error {
	var se *bbssh.ScpError
	if errors.As(err, &se) {
		t, ok := scpErrorTypes[se.Code]
		if !ok {
			t = "pod.epiccastle.bbssh.scp/scp-unknown-error"
		}
		return (&pod.Error{Type: t, Message: err.Error(), Err: err}).With("code", se.Code).With("msg", se.Msg)
	}
	return engineError(err)
}

// scpOptions reads the option map shared by send and receive.
func scpOptions(m pod.Map) (o bbssh.ScpOptions, progress bool, err error) {
	defer asBadOption(&err)
	o.Recursive = m.Bool("recurse?", false)
	o.PreserveTimes = m.Bool("preserve-times?", true)
	o.PreserveMode = m.Bool("preserve-mode?", true)
	mode, err := m.Int("mode", 0o644)
	if err != nil {
		return o, false, err
	}
	dirMode, err := m.Int("dir-mode", 0o755)
	if err != nil {
		return o, false, err
	}
	if mode < 0 || mode > 0o7777 || dirMode < 0 || dirMode > 0o7777 {
		return o, false, badOption(":mode and :dir-mode must be between 0 and 07777")
	}
	o.FileMode, o.DirMode = os.FileMode(mode), os.FileMode(dirMode)
	buf, err := m.Int("buffer-size", 256<<10)
	if err != nil {
		return o, false, err
	}
	if buf < 1 || buf > 64<<20 {
		return o, false, badOption(":buffer-size must be between 1 and 64 MiB, got %d", buf)
	}
	o.BufferSize = int(buf)
	return o, m.Bool("progress?", false), nil
}

// progressEvents makes o report progress as events on c.
func progressEvents(c *pod.Call, progress bool, set func(func(name string, offset, size int64))) {
	if progress {
		set(func(name string, offset, size int64) {
			c.Send(map[any]any{kw("progress"): []any{name, offset, size}})
		})
	}
}

// scpInput is a bb InputStream's bytes, written by the client into a pipe
// that scp reads as a source.
type scpInput struct {
	r *io.PipeReader
	w *io.PipeWriter
	// channeled is closed when a data channel has delivered all the
	// client's bytes into w.
	channeled chan struct{}

	mu     sync.Mutex
	conn   net.Conn // the data channel, while it carries the bytes
	closed bool
}

// Close ends the pipe and the data channel feeding it: a client that
// stalls its source must not keep the channel's goroutine and descriptor
// once the copy is over (its next write fails instead).
func (in *scpInput) Close() error {
	in.mu.Lock()
	in.closed = true
	conn := in.conn
	in.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	in.w.Close()
	return in.r.Close()
}

// carry records conn as the data channel; false when the input is
// already closed.
func (in *scpInput) carry(conn net.Conn) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.conn = conn
	return !in.closed
}

func (a *API) scpSources(v any) ([]bbssh.ScpSource, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, badOption("scp sources must be a vector, got %s", pod.Describe(v))
	}
	var out []bbssh.ScpSource
	for i, item := range list {
		m, err := pod.AsMap("scp source", item)
		if err != nil {
			return nil, err
		}
		var src bbssh.ScpSource
		if src.Path, err = m.String("path", ""); err != nil {
			return nil, err
		}
		if src.Name, err = m.String("name", ""); err != nil {
			return nil, err
		}
		if b64, err := m.String("data-base64", ""); err != nil {
			return nil, err
		} else if m.Has("data-base64") {
			if src.Data, err = base64.StdEncoding.DecodeString(b64); err != nil {
				return nil, badOption("scp source %d: data is not base64", i+1)
			}
			if src.Data == nil {
				src.Data = []byte{}
			}
		}
		if h, ok := m.Get("input"); ok && h != nil {
			obj, err := a.reg.Get("scp-input", h)
			if err != nil {
				return nil, err
			}
			src.Reader = obj.(*scpInput).r
			size, err := m.Int("size", -1)
			if err != nil {
				return nil, err
			}
			if size < 0 {
				return nil, pod.Errorf("pod.epiccastle.bbssh.scp/filename-error", "scp source %d: an InputStream needs :size", i+1)
			}
			src.Size = size
		}
		if src.Path == "" && src.Name == "" {
			return nil, pod.Errorf("pod.epiccastle.bbssh.scp/filename-error", "scp data info must contain :filename")
		}
		mode, err := m.Int("mode", 0)
		if err != nil {
			return nil, err
		}
		src.Mode = os.FileMode(mode)
		mtime, err := m.Int("mtime", 0)
		if err != nil {
			return nil, err
		}
		atime, err := m.Int("atime", 0)
		if err != nil {
			return nil, err
		}
		if mtime > 0 && atime > 0 {
			src.ModTime, src.AccessTime = time.Unix(mtime, 0), time.Unix(atime, 0)
		}
		out = append(out, src)
	}
	return out, nil
}

// releaseInputs frees the input pipes a send's sources name, closing them
// so that no writer stays blocked.
func (a *API) releaseInputs(sources any) {
	a.eachInput(sources, a.reg.Release)
}

// closeInputs closes the input pipes a send's sources name, keeping their
// handles, so that a copy blocked reading one returns.
func (a *API) closeInputs(sources any) {
	a.eachInput(sources, func(h any) (any, error) { return a.reg.Get("scp-input", h) })
}

// eachInput closes the input that lookup finds for each source's handle.
func (a *API) eachInput(sources any, lookup func(h any) (any, error)) {
	list, _ := sources.([]any)
	for _, item := range list {
		m, ok := item.(map[any]any)
		if !ok {
			continue
		}
		if h, ok := pod.Map(m).Get("input"); ok && h != nil {
			if obj, err := lookup(h); err == nil {
				if in, ok := obj.(*scpInput); ok {
					in.Close()
				}
			}
		}
	}
}

// scpCall reads what send and receive share, [session command _ opts],
// with progress reported as events on c when asked.
func (a *API) scpCall(c *pod.Call) (*bbssh.Session, string, bbssh.ScpOptions, error) {
	s, m, err := a.sessionAndMap(c, 3)
	if err != nil {
		return nil, "", bbssh.ScpOptions{}, err
	}
	command, err := c.Args.String(1)
	if err != nil {
		return nil, "", bbssh.ScpOptions{}, err
	}
	o, progress, err := scpOptions(m)
	if err != nil {
		return nil, "", bbssh.ScpOptions{}, err
	}
	progressEvents(c, progress, func(f func(string, int64, int64)) { o.Progress = f })
	return s, command, o, nil
}

func (a *API) registerScp(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "command", MinArgs: 3, MaxArgs: 3,
		Doc:      "The remote scp command for :to (scp -t) or :from (scp -f) a path, with the path quoted for the remote shell. E.g. (command :to \"dir\" {:recurse? true :preserve-times? true}) ;; => \"scp -r -p -t -- 'dir'\"",
		Arglists: []string{"[direction remote-path opts]"},
		Fn: func(c *pod.Call) (any, error) {
			dir, err := pod.AsKeyword("direction", c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			path, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			m, err := c.Args.Map(2)
			if err != nil {
				return nil, err
			}
			o, _, err := scpOptions(m)
			if err != nil {
				return nil, err
			}
			switch dir {
			case "to":
				return bbssh.ScpSendCommand(path, o), nil
			case "from":
				return bbssh.ScpReceiveCommand(path, o), nil
			}
			return nil, badOption("direction must be :to or :from, got :%s", dir)
		}})
	ns.Add(&pod.Var{Name: "new-input", MinArgs: 0, MaxArgs: 0,
		Doc:      "A pipe for the bytes of a bb InputStream source; write with input-write, end with input-close. E.g. (new-input) ;; => :bbssh/scp-input-7",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			r, w := io.Pipe()
			return a.reg.Put("scp-input", &scpInput{r: r, w: w}), nil
		}})
	ns.Add(&pod.Var{Name: "input-channel", MinArgs: 1, MaxArgs: 1,
		Doc:      "Offers an input pipe on a loopback data channel: returns {:port :token}; what the client writes there is the source's bytes, and closing it ends them. E.g. (input-channel in) ;; => {:port 40123 :token \"9f...\"}",
		Arglists: []string{"[input]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Get("scp-input", c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			in := obj.(*scpInput)
			if in.channeled != nil {
				return nil, badOption("the input already has a data channel")
			}
			done := make(chan struct{})
			in.channeled = done
			serve := copyFromChannel(in.w)
			return offerDataChannel(func(conn net.Conn) {
				defer close(done)
				if in.carry(conn) {
					serve(conn)
				}
			},
				func() { in.w.CloseWithError(io.ErrUnexpectedEOF); close(done) })
		}})
	ns.Add(&pod.Var{Name: "input-write", MinArgs: 2, MaxArgs: 2,
		Doc:      "Writes base64 bytes into an input pipe; blocks until scp has taken them. E.g. (input-write in \"aGkK\")",
		Arglists: []string{"[input base64]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Get("scp-input", c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			if _, err := obj.(*scpInput).w.Write(data); err != nil {
				return nil, pod.Errorf(ErrorNS+"/closed", "the copy no longer reads this input: %v", err)
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "input-close", MinArgs: 1, MaxArgs: 1,
		Doc:      "Ends an input pipe and frees its handle. E.g. (input-close in)",
		Arglists: []string{"[input]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Release(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			in := obj.(*scpInput)
			awaitChannel(in.channeled) // what the client sent goes first
			in.w.Close()
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "send", MinArgs: 4, MaxArgs: 4,
		Doc:      "Runs command (from command :to) and sends the sources; streams {:progress [name offset size]} events when :progress? is set. E.g. (send s (command :to \"dir\" {}) [{:path \"/tmp/a.txt\"}] {:progress? true})",
		Arglists: []string{"[session command sources opts]"},
		Stream: func(c *pod.Call) error {
			// The inputs were made for this copy and end with it, however
			// it ends; the client's pump may finish before or after.
			defer a.releaseInputs(c.Args.Get(2))
			s, command, o, err := a.scpCall(c)
			if err != nil {
				return err
			}
			sources, err := a.scpSources(c.Args.Get(2))
			if err != nil {
				return err
			}
			// A source the client has stalled holds the copy in a read
			// that no dead connection ends: end the inputs with it.
			copied := make(chan struct{})
			defer close(copied)
			go func() {
				select {
				case <-s.Done():
					a.closeInputs(c.Args.Get(2))
				case <-copied:
				}
			}()
			err = s.ScpTo(c.Ctx, command, sources, o)
			for _, src := range sources {
				if pr, ok := src.Reader.(*io.PipeReader); ok {
					pr.Close() // unblock a client still pumping
				}
			}
			return transferError(err)
		}})
	ns.Add(&pod.Var{Name: "receive", MinArgs: 4, MaxArgs: 4,
		Doc:      "Runs command (from command :from) and writes what arrives under local-path; streams progress events when :progress? is set. E.g. (receive s (command :from \"a.txt\" {}) \"/tmp\" {})",
		Arglists: []string{"[session command local-path opts]"},
		Stream: func(c *pod.Call) error {
			s, command, o, err := a.scpCall(c)
			if err != nil {
				return err
			}
			local, err := c.Args.String(2)
			if err != nil {
				return err
			}
			return transferError(s.ScpFrom(c.Ctx, command, local, o))
		}})
}
