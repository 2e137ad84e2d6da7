package api

import (
	"sync"

	"bbssh/bbssh"
	"bbssh/pod"
)

// A logger carries a session's debug messages to the script's :debug-fn
// (bbssh 0.6's agent/set-debug-fn): the pod sends {:level n :message s}
// on the streaming call that created it, and the client calls the
// function with each, in order, off the pod's reader thread.

// logger is one :debug-fn.
type logger struct {
	call *pod.Call
	done chan struct{}
	once sync.Once
}

// log sends one message; it never blocks the connection for long, and
// a logger that is gone drops it.
func (l *logger) log(level bbssh.LogLevel, message string) {
	select {
	case <-l.done:
		return
	default:
	}
	l.call.Send(map[any]any{kw("level"): int(level), kw("message"): message})
}

// Close ends the logger: the client's handler is told it is done.
func (l *logger) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (a *API) registerLog(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 0, MaxArgs: 0,
		Doc: "Creates a logger for a session's :debug-log option: sends {:result handle}, then " +
			"{:level n :message s} for each debug message (levels 0 debug, 1 info, 2 warn, 3 error, as JSch), " +
			"until released. The client's :debug-fn option of bbssh/ssh uses it.\n\n" +
			"    (babashka.pods/invoke \"pod.epiccastle.bbssh\" 'pod.epiccastle.bbssh.pod.log/new []\n" +
			"                          {:handlers {:success (fn [{:keys [level message]}] (println level message))}})",
		Arglists: []string{"[]"},
		Stream: func(c *pod.Call) error {
			l := &logger{call: c, done: make(chan struct{})}
			h := a.reg.Put("logger", l)
			if err := c.Send(map[any]any{kw("result"): h}); err != nil {
				a.reg.Release(h)
				return err
			}
			select {
			case <-l.done:
			case <-c.Ctx.Done():
			}
			return nil
		}})
}

// attachLogger applies the :debug-log option: the session's messages go
// to that logger, which is released with the session.
func (a *API) attachLogger(opts *bbssh.Options, m pod.Map) (pod.Handle, error) {
	v, ok := m.Get("debug-log")
	if !ok || v == nil {
		return "", nil
	}
	obj, err := a.reg.Get("logger", v)
	if err != nil {
		return "", err
	}
	opts.Log = obj.(*logger).log
	return v.(pod.Handle), nil
}

// releaseLogger releases the logger of a session being released.
func (a *API) releaseLogger(s *bbssh.Session) {
	if h, ok := a.loggers.LoadAndDelete(s); ok {
		if obj, err := a.reg.Release(h); err == nil {
			obj.(*logger).Close()
		}
	}
}
