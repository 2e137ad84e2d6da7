// Package api binds the SSH engine (package bbssh) to the pod protocol
// (package pod): it registers the pod vars that the client-side namespaces
// in resources/ call, decodes their arguments, keeps engine objects in the
// handle registry and turns engine errors into typed ex-info data.
package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"

	"golang.org/x/crypto/ssh"
)

// ErrorNS is the namespace of every :type keyword the pod sends.
const ErrorNS = "bbssh"

// API holds the state shared by the vars: the handle registry and which
// handles belong to which session.
type API struct {
	reg *pod.Registry
	// Stderr receives banners and warnings.
	Stderr io.Writer

	mu       sync.Mutex
	owned    map[*bbssh.Session][]pod.Handle // handles released with their session
	forwards map[*bbssh.Session][]*bbssh.Forward
	low      lowerState // the lower-level namespaces' state (lower.go)
	// loggers maps a session to the handle of its :debug-fn logger,
	// released with the session's handle (logger.go).
	loggers sync.Map // *bbssh.Session -> pod.Handle
	// outChannels finds the data channel of an output stream
	// (streamchannel.go).
	outChannels sync.Map // outStream -> *outChannel
	// window is the receive-window policy every session of the pod
	// shares, with its memory budget (bbssh/window.go).
	window *ssh.ReceiveWindow
}

// New returns an API with an empty registry.
func New() *API {
	return &API{reg: pod.NewRegistry(ErrorNS), Stderr: os.Stderr, owned: map[*bbssh.Session][]pod.Handle{},
		forwards: map[*bbssh.Session][]*bbssh.Forward{}, low: newLowerState(), window: bbssh.NewReceiveWindow()}
}

// Register adds every pod var to srv.
func (a *API) Register(srv *pod.Server) {
	a.registerSession(srv.Namespace("pod.epiccastle.bbssh.pod.session"))
	a.registerExec(srv.Namespace("pod.epiccastle.bbssh.pod.exec"))
	a.registerExecChannel(srv.Namespace("pod.epiccastle.bbssh.pod.exec"))
	a.registerForward(srv.Namespace("pod.epiccastle.bbssh.pod.forward"))
	a.registerRegistry(srv.Namespace("pod.epiccastle.bbssh.pod.registry"))
	a.registerUserInfo(srv.Namespace("pod.epiccastle.bbssh.pod.user-info"), srv.Namespace("pod.epiccastle.bbssh.pod.callbacks"))
	a.registerSessionConfig(srv.Namespace("pod.epiccastle.bbssh.pod.session"))
	a.registerScp(srv.Namespace("pod.epiccastle.bbssh.pod.scp"))
	a.registerSftp(srv.Namespace("pod.epiccastle.bbssh.pod.sftp"))
	a.registerLog(srv.Namespace("pod.epiccastle.bbssh.pod.log"))
	a.registerDebug(srv.Namespace("pod.epiccastle.bbssh.pod.debug")) // diagnostics for leak checks
	a.registerLower(srv)
	// bbssh 0.6's channel-exec, streams and terminal (channelexec.go,
	// streams.go, terminal.go) and the freeing of dropped handles
	// (cleanup.go).
	a.registerChannelExec(srv.Namespace("pod.epiccastle.bbssh.pod.channel-exec"), srv.Namespace("pod.epiccastle.bbssh.pod.session"))
	a.registerStreams(srv.Namespace("pod.epiccastle.bbssh.pod.input-stream"), srv.Namespace("pod.epiccastle.bbssh.pod.output-stream"),
		srv.Namespace("pod.epiccastle.bbssh.pod.byte-array-input-stream"), srv.Namespace("pod.epiccastle.bbssh.pod.byte-array-output-stream"))
	a.registerTerminal(srv.Namespace("pod.epiccastle.bbssh.pod.terminal"))
	a.registerCleanup(srv.Namespace("pod.epiccastle.bbssh.pod.registry"), srv.Namespace("pod.epiccastle.bbssh.pod.cleaner"))
	a.installCleanup(srv)
}

// Close closes every session, and so every forward and command on them.
// The pod calls it on shutdown.
func (a *API) Close() {
	var wg sync.WaitGroup
	rawTerminal.Leave() // a script that left the terminal raw (terminal.go)
	a.reg.Each("session", func(obj any) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj.(*bbssh.Session).Close()
		}()
	})
	wg.Wait()
}

// own records that h lives and dies with session s.
func (a *API) own(s *bbssh.Session, h pod.Handle) {
	a.mu.Lock()
	a.owned[s] = append(a.owned[s], h)
	a.mu.Unlock()
	a.reg.Depend(h, s) // the session lives while h does (cleanup.go)
}

// releaseOwned releases the handles that belonged to s.
func (a *API) releaseOwned(s *bbssh.Session) {
	a.mu.Lock()
	hs := a.owned[s]
	delete(a.owned, s)
	a.mu.Unlock()
	for _, h := range hs {
		if obj, err := a.reg.Release(h); err == nil {
			if c, ok := obj.(io.Closer); ok {
				c.Close()
			}
		}
	}
}

// sessionAndMap reads the common argument shape [session ... map]: the
// session handle first, an option map at index i.
func (a *API) sessionAndMap(c *pod.Call, i int) (*bbssh.Session, pod.Map, error) {
	s, err := a.session(c.Args.Get(0))
	if err != nil {
		return nil, nil, err
	}
	m, err := c.Args.Map(i)
	if err != nil {
		return nil, nil, err
	}
	return s, m, nil
}

func (a *API) session(v any) (*bbssh.Session, error) {
	obj, err := a.reg.Get("session", v)
	if err != nil {
		return nil, err
	}
	return obj.(*bbssh.Session), nil
}

// engineError gives an engine error its :type and ex-data.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	var pe *pod.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &pod.Error{Type: ErrorNS + "/cancelled", Message: "bbssh: cancelled: the pod is shutting down", Err: err}
	}
	e := &pod.Error{Type: ErrorNS + "/error", Message: err.Error(), Err: err}
	if k := bbssh.KindOf(err); k != "" {
		e.Type = ErrorNS + "/" + string(k)
	}
	var hk *bbssh.HostKeyError
	if errors.As(err, &hk) {
		e.With("host", hk.Host).With("key-type", hk.KeyType).With("fingerprint", hk.Fingerprint)
	}
	return e
}

func kw(name string) pod.Handle { return pod.Handle(name) }

// bytesArg reads argument i, bytes sent as base64 by the client.
func bytesArg(c *pod.Call, i int) ([]byte, error) {
	s, err := c.Args.String(i)
	if err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, pod.Errorf(pod.BadArgument, "argument %d of %s must be base64 bytes: %v", i+1, c.Var, err)
	}
	return data, nil
}

// awaitChannel waits, at most as long as a data channel waits for its
// client, until done is closed (nil: nothing to wait for). Closing a
// handle whose bytes travel on a channel waits so that nothing the client
// sent is cut off.
func awaitChannel(done <-chan struct{}) {
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(dataChannelAccept):
	}
}
