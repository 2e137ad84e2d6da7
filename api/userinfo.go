package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// A user-info is a bbssh.Prompter whose answers come from functions in
// the script (pod.epiccastle.bbssh.user-info/new): the pod sends
// {:method :get-password :id "cb-1" :args [...]} on the streaming call
// that created it, the client runs the function on its own thread and
// answers with callbacks/return-result (or return-error when the function
// threw, so that nothing waits for ever).

// userInfo is one user-info object.
type userInfo struct {
	call    *pod.Call
	methods map[string]bool // the callbacks the script defined

	mu      sync.Mutex
	next    int
	pending map[string]chan callbackResult
	done    chan struct{}
	once    sync.Once
}

type callbackResult struct {
	value any
	err   error
}

// messageTimeout bounds a :show-message callback, which nothing else
// waits on.
const messageTimeout = 30 * time.Second

// Close ends the user-info: pending questions fail, and the client's
// handler is told it is done.
func (u *userInfo) Close() error {
	u.once.Do(func() { close(u.done) })
	return nil
}

// invoke asks the script's method and waits for its answer.
func (u *userInfo) invoke(ctx context.Context, method string, args ...any) (any, error) {
	u.mu.Lock()
	u.next++
	id := "cb-" + strconv.Itoa(u.next)
	ch := make(chan callbackResult, 1)
	u.pending[id] = ch
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.pending, id)
		u.mu.Unlock()
	}()
	if args == nil {
		args = []any{}
	}
	if err := u.call.Send(map[any]any{kw("method"): kw(method), kw("id"): id, kw("args"): args}); err != nil {
		return nil, fmt.Errorf("asking :%s: %w", method, err)
	}
	select {
	case r := <-ch:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-u.done:
		return nil, errors.New("the user-info was released")
	}
}

// answer delivers the script's answer to question id.
func (u *userInfo) answer(id string, r callbackResult) bool {
	u.mu.Lock()
	ch := u.pending[id]
	u.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- r
	return true
}

func truthy(v any) bool {
	b, isBool := v.(bool)
	return v != nil && (!isBool || b)
}

// secret asks prompt-<what> (when defined; false cancels) then get-<what>.
func (u *userInfo) secret(ctx context.Context, what, prompt string) (string, error) {
	if u.methods["prompt-"+what] {
		ok, err := u.invoke(ctx, "prompt-"+what, prompt)
		if err != nil {
			return "", err
		}
		if !truthy(ok) {
			return "", fmt.Errorf("the user-info's :prompt-%s declined", what)
		}
	}
	if !u.methods["get-"+what] {
		return "", fmt.Errorf("the user-info has no :get-%s", what)
	}
	v, err := u.invoke(ctx, "get-"+what)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("the user-info's :get-%s gave no %s", what, what)
	}
	return s, nil
}

// Password asks :prompt-password then :get-password.
func (u *userInfo) Password(ctx context.Context, prompt string) (string, error) {
	return u.secret(ctx, "password", prompt)
}

// Passphrase asks :prompt-passphrase then :get-passphrase.
func (u *userInfo) Passphrase(ctx context.Context, prompt string) (string, error) {
	return u.secret(ctx, "passphrase", prompt)
}

// YesNo asks :prompt-yes-no; without it the answer is no.
func (u *userInfo) YesNo(ctx context.Context, question string) (bool, error) {
	if !u.methods["prompt-yes-no"] {
		return false, nil
	}
	v, err := u.invoke(ctx, "prompt-yes-no", question)
	return truthy(v), err
}

// Write passes server messages (the banner) to :show-message.
func (u *userInfo) Write(p []byte) (int, error) {
	if u.methods["show-message"] {
		ctx, cancel := context.WithTimeout(context.Background(), messageTimeout)
		defer cancel()
		u.invoke(ctx, "show-message", string(p))
	}
	return len(p), nil
}

var userInfoMethods = map[string]bool{"get-password": true, "get-passphrase": true, "prompt-yes-no": true,
	"prompt-password": true, "prompt-passphrase": true, "show-message": true}

func (a *API) registerUserInfo(ns, callbacks *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc:      "Creates a user-info whose questions go to the client: sends {:result handle}, then one {:method :id :args} per question, until released. E.g. (new [:get-password :prompt-yes-no])",
		Arglists: []string{"[method-names]"},
		Stream: func(c *pod.Call) error {
			names, ok := c.Args.Get(0).([]any)
			if !ok {
				return badOption("user-info/new wants the vector of callback names, got %s", pod.Describe(c.Args.Get(0)))
			}
			u := &userInfo{call: c, methods: map[string]bool{}, pending: map[string]chan callbackResult{}, done: make(chan struct{})}
			for _, n := range names {
				name, err := pod.AsKeyword("callback name", n)
				if err != nil {
					return err
				}
				if !userInfoMethods[name] {
					return badOption("unknown user-info callback :%s (known: :get-password :get-passphrase :prompt-yes-no :prompt-password :prompt-passphrase :show-message)", name)
				}
				u.methods[name] = true
			}
			h := a.reg.Put("user-info", u)
			if err := c.Send(map[any]any{kw("result"): h}); err != nil {
				a.reg.Release(h)
				return err
			}
			select {
			case <-u.done:
			case <-c.Ctx.Done():
			}
			return nil
		}})
	callbacks.Add(&pod.Var{Name: "return-result", MinArgs: 2, MaxArgs: 2,
		Doc:      "Answers a callback question with the value the client's function returned. E.g. (return-result \"cb-1\" \"secret\")",
		Arglists: []string{"[id value]"},
		Fn: func(c *pod.Call) (any, error) {
			return nil, a.answerCallback(c, callbackResult{value: c.Args.Get(1)})
		}})
	callbacks.Add(&pod.Var{Name: "return-error", MinArgs: 2, MaxArgs: 2,
		Doc:      "Answers a callback question with the error the client's function threw. E.g. (return-error \"cb-1\" \"no password here\")",
		Arglists: []string{"[id message]"},
		Fn: func(c *pod.Call) (any, error) {
			msg, _ := c.Args.Get(1).(string)
			return nil, a.answerCallback(c, callbackResult{err: fmt.Errorf("the callback threw: %s", msg)})
		}})
}

// answerCallback finds the user-info waiting for the question id.
func (a *API) answerCallback(c *pod.Call, r callbackResult) error {
	id, err := c.Args.String(0)
	if err != nil {
		return err
	}
	if a.low.hub.answer(id, r) { // an object of callbacks.go, or a stream of streamproxy.go
		return nil
	}
	found := false
	a.reg.Each("user-info", func(obj any) {
		if !found {
			found = obj.(*userInfo).answer(id, r)
		}
	})
	if !found {
		return pod.Errorf(ErrorNS+"/unknown-callback", "no question %q is waiting for an answer", id)
	}
	return nil
}

func (a *API) userInfo(v any) (*userInfo, error) {
	obj, err := a.reg.Get("user-info", v)
	if err != nil {
		return nil, err
	}
	return obj.(*userInfo), nil
}

var _ bbssh.Prompter = (*userInfo)(nil)
