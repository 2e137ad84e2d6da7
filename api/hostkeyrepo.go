package api

import (
	"context"
	"fmt"

	"bbssh/bbssh"
	"bbssh/pod"

	"golang.org/x/crypto/ssh"
)

// Host key repositories (pod.epiccastle.bbssh.host-key-repository): a
// known_hosts database (a file, or content held in the pod) or one
// implemented in the script; sessions check server keys against one.

// hostKeyRepo is a host key repository.
type hostKeyRepo interface {
	check(ctx context.Context, host string, blob []byte) (bbssh.HostKeyStatus, error)
	add(ctx context.Context, hk *bbssh.HostKey, userInfo any) error
	// remove removes host's keys of type typ ("" any), only blob when
	// not nil.
	remove(ctx context.Context, host, typ string, blob []byte) error
	// hostKeys lists host's keys of type typ; host "" lists all.
	hostKeys(ctx context.Context, host, typ string) ([]*bbssh.HostKey, error)
	id(ctx context.Context) (any, error)
}

// knownHostsRepo is a known_hosts database.
type knownHostsRepo struct{ kh *bbssh.KnownHosts }

func (r *knownHostsRepo) check(_ context.Context, host string, blob []byte) (bbssh.HostKeyStatus, error) {
	return r.kh.CheckBlob(host, blob)
}
func (r *knownHostsRepo) add(_ context.Context, hk *bbssh.HostKey, _ any) error {
	return r.kh.AddHostKey(hk)
}
func (r *knownHostsRepo) remove(_ context.Context, host, typ string, blob []byte) error {
	_, err := r.kh.Remove(host, typ, blob)
	return err
}
func (r *knownHostsRepo) hostKeys(_ context.Context, host, typ string) ([]*bbssh.HostKey, error) {
	return r.kh.HostKeys(host, typ)
}

// id is the file, or nil for content in memory (as JSch).
func (r *knownHostsRepo) id(context.Context) (any, error) {
	if f := r.kh.File(); f != "" {
		return f, nil
	}
	return nil, nil
}

// bbHostKeyRepo is a host key repository implemented in the script.
type bbHostKeyRepo struct {
	*bbObject
	a *API
}

var hostKeyStatuses = map[string]bbssh.HostKeyStatus{"ok": bbssh.HostKeyOK, "not-included": bbssh.HostKeyNotIncluded,
	"changed": bbssh.HostKeyChanged, "revoked": bbssh.HostKeyRevoked}

func (r *bbHostKeyRepo) check(ctx context.Context, host string, blob []byte) (bbssh.HostKeyStatus, error) {
	v, err := r.invoke(ctx, "check", host, b64(blob))
	if err != nil {
		return 0, err
	}
	name, _ := pod.AsKeyword("", v)
	if s, ok := hostKeyStatuses[name]; ok {
		return s, nil
	}
	if v == nil {
		return bbssh.HostKeyNotIncluded, nil
	}
	return 0, fmt.Errorf("the host-key-repository's :check returned %s, not :ok, :not-included, :changed or :revoked", pod.Describe(v))
}

func (r *bbHostKeyRepo) add(ctx context.Context, hk *bbssh.HostKey, userInfo any) error {
	if !r.has("add") {
		return nil // no handle made that no one would hold
	}
	// The client's :add registers the host key's handle with its cleaner.
	_, err := r.invoke(ctx, "add", r.a.reg.Put("host-key", hk), userInfo)
	return err
}

func (r *bbHostKeyRepo) remove(ctx context.Context, host, typ string, blob []byte) error {
	args := []any{host, typ}
	if blob != nil {
		args = append(args, b64(blob))
	}
	_, err := r.invoke(ctx, "remove", args...)
	return err
}

func (r *bbHostKeyRepo) hostKeys(ctx context.Context, host, typ string) ([]*bbssh.HostKey, error) {
	var args []any
	if host != "" || typ != "" {
		args = []any{host, typ}
	}
	v, err := r.invoke(ctx, "get-host-key", args...)
	if err != nil || v == nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the host-key-repository's :get-host-key returned %s, not host keys", pod.Describe(v))
	}
	out := make([]*bbssh.HostKey, 0, len(list))
	for _, h := range list {
		hk, err := r.a.hostKey(h)
		if err != nil {
			return nil, fmt.Errorf("the host-key-repository's :get-host-key: %w", err)
		}
		out = append(out, hk)
	}
	return out, nil
}

func (r *bbHostKeyRepo) id(ctx context.Context) (any, error) {
	return r.invoke(ctx, "get-known-hosts-repository-id")
}

func (a *API) hostKeyRepo(v any) (hostKeyRepo, error) {
	obj, err := a.reg.Get("host-key-repository", v)
	if err != nil {
		return nil, err
	}
	return obj.(hostKeyRepo), nil
}

// hostKeySource turns a repository into the engine's HostKeyRepository.
type hostKeySource struct{ repo hostKeyRepo }

func (s hostKeySource) Check(ctx context.Context, host string, key ssh.PublicKey) (bbssh.HostKeyStatus, error) {
	return s.repo.check(ctx, host, key.Marshal())
}

func (s hostKeySource) Add(ctx context.Context, host string, key ssh.PublicKey) error {
	hk, err := bbssh.NewHostKey("", host, "", key.Marshal(), "")
	if err != nil {
		return err
	}
	return s.repo.add(ctx, hk, nil)
}

// useHostKeyRepo makes opts check server keys with r: a known_hosts file
// is handed to the engine's own checker (OpenSSH's semantics, with
// certificates), anything else goes through the repository.
func useHostKeyRepo(opts *bbssh.Options, r hostKeyRepo) {
	if kr, ok := r.(*knownHostsRepo); ok && kr.kh.File() != "" {
		opts.KnownHosts, opts.HostKeyRepository = []string{kr.kh.File()}, nil
		return
	}
	opts.HostKeyRepository = hostKeySource{r}
}

var hostKeyRepoMethods = []string{"check", "add", "remove", "get-host-key", "get-known-hosts-repository-id"}

func (a *API) registerHostKeyRepo(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc: "Creates a host key repository whose methods (:check :add :remove :get-host-key :get-known-hosts-repository-id) are the client's functions: " +
			"sends {:result handle}, then {:method :id :args} questions until released. E.g. (new [:check :add])",
		Arglists: []string{"[method-names]"},
		Stream: a.bbObjectVar("host-key-repository", hostKeyRepoMethods, func(o *bbObject) any {
			o.what = "host-key-repository"
			return &bbHostKeyRepo{bbObject: o, a: a}
		})})
	ns.Add(&pod.Var{Name: "known-hosts-file", MinArgs: 1, MaxArgs: 1,
		Doc:      "A known_hosts file (~ expanded; it need not exist yet) as a host key repository. E.g. (known-hosts-file \"~/.ssh/known_hosts\") ;; => :bbssh/host-key-repository-2",
		Arglists: []string{"[file]"},
		Fn: func(c *pod.Call) (any, error) {
			file, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			if file == "" {
				return nil, badOption("known_hosts file name must not be empty")
			}
			return a.reg.Put("host-key-repository", &knownHostsRepo{bbssh.NewKnownHostsFile(file)}), nil
		}})
	ns.Add(&pod.Var{Name: "known-hosts-content", MinArgs: 1, MaxArgs: 1,
		Doc:      "known_hosts content (base64), held in the pod, as a host key repository. E.g. (known-hosts-content \"ZXhhbXBsZS5jb20g...\")",
		Arglists: []string{"[content-b64]"},
		Fn: func(c *pod.Call) (any, error) {
			content, err := bytesArg(c, 0)
			if err != nil {
				return nil, err
			}
			return a.reg.Put("host-key-repository", &knownHostsRepo{bbssh.NewKnownHostsContent(content)}), nil
		}})
	fn := func(name, doc string, arglists []string, min, max int, f func(c *pod.Call, r hostKeyRepo) (any, error)) {
		ns.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				r, err := a.hostKeyRepo(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				v, err := f(c, r)
				return v, engineError(err)
			}})
	}
	fn("check", "Checks a host's key (blob as base64): :ok, :not-included, :changed or :revoked. E.g. (check repo \"[10.0.0.1]:2222\" \"AAAAC3Nz...\") ;; => :ok",
		[]string{"[repository host key-b64]"}, 3, 3,
		func(c *pod.Call, r hostKeyRepo) (any, error) {
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			blob, err := bytesArg(c, 2)
			if err != nil {
				return nil, err
			}
			if _, err := bbssh.ParsePublicKey(blob); err != nil {
				return nil, pod.Errorf(ErrorNS+"/bad-key", "the key to check is not an SSH public key blob: %v", err)
			}
			st, err := r.check(c.Ctx, host, blob)
			if err != nil {
				return nil, err
			}
			return kw(st.String()), nil
		})
	fn("add", "Adds a host key; user-info may be nil. E.g. (add repo hk nil)", []string{"[repository host-key user-info]"}, 3, 3,
		func(c *pod.Call, r hostKeyRepo) (any, error) {
			hk, err := a.hostKey(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			ui := c.Args.Get(2)
			if ui != nil {
				if _, err := a.userInfo(ui); err != nil {
					return nil, err
				}
			}
			return nil, r.add(c.Ctx, hk, ui)
		})
	fn("remove", "Removes a host's keys of a type (nil: every type), only the given key (base64) when given. E.g. (remove repo \"example.com\" \"ssh-rsa\")",
		[]string{"[repository host type]", "[repository host type key-b64]"}, 3, 4,
		func(c *pod.Call, r hostKeyRepo) (any, error) {
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			typ, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			blob, err := optBytesArg(c, 3)
			if err != nil {
				return nil, err
			}
			return nil, r.remove(c.Ctx, host, typ, blob)
		})
	fn("get-host-key", "The host keys, all or a host's of a type (nil: any), as handles. E.g. (get-host-key repo \"example.com\" nil) ;; => [:bbssh/host-key-8]",
		[]string{"[repository]", "[repository host type]"}, 1, 3,
		func(c *pod.Call, r hostKeyRepo) (any, error) {
			host, err := optStringArg(c, 1)
			if err != nil {
				return nil, err
			}
			typ, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			hks, err := r.hostKeys(c.Ctx, host, typ)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(hks))
			for i, hk := range hks {
				out[i] = a.reg.Put("host-key", hk)
			}
			return out, nil
		})
	fn("get-known-hosts-repository-id", "The repository's id: a known_hosts file's name, nil for content. E.g. (get-known-hosts-repository-id repo) ;; => \"/home/me/.ssh/known_hosts\"",
		[]string{"[repository]"}, 1, 1,
		func(c *pod.Call, r hostKeyRepo) (any, error) { return r.id(c.Ctx) })
}
