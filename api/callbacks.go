package api

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"bbssh/pod"
)

// Objects implemented in the script (identity/new, identity-repository/new,
// host-key-repository/new, config/new, config-repository/new): as with
// user-info, the pod sends {:method :id :args} on the streaming call that
// created the object, the client runs the script's function off its pod
// reader thread and answers with callbacks/return-result or return-error.
// Question ids ("bb-N") are unique across objects, so one hub routes every
// answer.

// callbackHub routes answers to the questions waiting for them.
type callbackHub struct {
	mu      sync.Mutex
	next    uint64
	pending map[string]chan callbackResult
	askers  map[string]*bbObject // who asked each pending question
}

// answer delivers r to question id; false when nothing waits for it.
// The object that asked first keeps the handles in the answer (see
// bbObject.keep), while the answering call still holds them.
func (h *callbackHub) answer(id string, r callbackResult) bool {
	h.mu.Lock()
	ch := h.pending[id]
	asker := h.askers[id]
	delete(h.pending, id)
	delete(h.askers, id)
	h.mu.Unlock()
	if ch == nil {
		return false
	}
	if asker != nil && asker.keep != nil && r.err == nil {
		asker.keep(r.value)
	}
	ch <- r
	return true
}

// bbObject is one object whose methods are functions in the script.
type bbObject struct {
	what    string // e.g. "identity", for error messages
	hub     *callbackHub
	call    *pod.Call
	methods map[string]bool
	done    chan struct{}
	once    sync.Once
	// keep makes the registered object hold the pod objects named in an
	// answer of the script (the identities a repository returns, the
	// config a config repository returns), so that the client dropping
	// their handles cannot free them while the pod uses them
	// (cleanup.go). The return-result call carrying the answer holds
	// its handles until keep has run.
	keep func(answer any)
}

// has reports whether the script defined method.
func (o *bbObject) has(method string) bool { return o.methods[method] }

// Close ends the object: pending questions fail, and the client's handler
// is told it is done.
func (o *bbObject) Close() error {
	o.once.Do(func() { close(o.done) })
	return nil
}

// invoke calls the script's method and waits for its answer. A method the
// script did not define answers nil at once, as bbssh 0.6's (fn [& _]).
func (o *bbObject) invoke(ctx context.Context, method string, args ...any) (any, error) {
	if !o.methods[method] {
		return nil, nil
	}
	h := o.hub
	ch := make(chan callbackResult, 1)
	h.mu.Lock()
	h.next++
	id := "bb-" + strconv.FormatUint(h.next, 10)
	h.pending[id] = ch
	if h.askers == nil {
		h.askers = map[string]*bbObject{}
	}
	h.askers[id] = o
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.pending, id)
		delete(h.askers, id)
		h.mu.Unlock()
	}()
	if args == nil {
		args = []any{}
	}
	if err := o.call.Send(map[any]any{kw("method"): kw(method), kw("id"): id, kw("args"): args}); err != nil {
		return nil, fmt.Errorf("calling the %s's :%s: %w", o.what, method, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("the %s's :%s: %w", o.what, method, r.err)
		}
		return r.value, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-o.done:
		return nil, fmt.Errorf("the %s was released", o.what)
	case <-o.call.Ctx.Done():
		return nil, o.call.Ctx.Err()
	}
}

// invokeString calls method and wants a string (nil gives "").
func (o *bbObject) invokeString(ctx context.Context, method string, args ...any) (string, error) {
	v, err := o.invoke(ctx, method, args...)
	if err != nil || v == nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the %s's :%s returned %s, not a string", o.what, method, pod.Describe(v))
	}
	return s, nil
}

// invokeBytes calls method and wants bytes, which the client sends as
// base64 (nil gives nil).
func (o *bbObject) invokeBytes(ctx context.Context, method string, args ...any) ([]byte, error) {
	s, err := o.invokeString(ctx, method, args...)
	if err != nil || s == "" {
		return nil, err
	}
	data, err := decodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("the %s's :%s returned no bytes: %w", o.what, method, err)
	}
	return data, nil
}

// bbObjectVar is the streaming var that creates an object of kind whose
// methods, named in the call's one argument, may be any of known. wrap
// makes the registered object from the callback object.
func (a *API) bbObjectVar(kind string, known []string, wrap func(*bbObject) any) pod.StreamFunc {
	allowed := map[string]bool{}
	for _, k := range known {
		allowed[k] = true
	}
	return func(c *pod.Call) error {
		names, ok := c.Args.Get(0).([]any)
		if !ok && c.Args.Get(0) != nil {
			return badOption("%s/new wants the vector of callback names, got %s", kind, pod.Describe(c.Args.Get(0)))
		}
		o := &bbObject{what: kind, hub: &a.low.hub, call: c, methods: map[string]bool{}, done: make(chan struct{})}
		for _, n := range names {
			name, err := pod.AsKeyword("callback name", n)
			if err != nil {
				return err
			}
			if !allowed[name] {
				return badOption("unknown %s callback :%s (known: :%s)", kind, name, joinKeywords(known))
			}
			o.methods[name] = true
		}
		self := wrap(o)
		o.keep = func(answer any) { a.holdHandlesIn(self, answer) }
		h := a.reg.Put(kind, self)
		if err := c.Send(map[any]any{kw("result"): h}); err != nil {
			a.reg.Release(h)
			return err
		}
		select {
		case <-o.done:
		case <-c.Ctx.Done():
		}
		return nil
	}
}

func joinKeywords(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += " :"
		}
		out += n
	}
	return out
}

// truthyResult reads a callback's answer as Clojure truth.
func truthyResult(v any, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}
