package api

import (
	"bytes"
	"context"
	"sync"

	"bbssh/bbssh"
	"bbssh/pod"
)

// A bbssh agent (pod.epiccastle.bbssh.agent) is bbssh 0.6's JSch instance,
// not an ssh-agent: it holds identities, a host key repository and a
// config repository, and makes unconnected sessions that use them.
// agent/set-config and agent/set-debug-fn set defaults for every session
// the pod makes afterwards, as JSch's static config and logger did.

// agentObj is one bbssh agent.
type agentObj struct {
	mu         sync.Mutex
	local      *localRepo   // its own identities
	idRepo     identityRepo // local unless set
	hostKeys   hostKeyRepo  // ~/.ssh/known_hosts unless set
	defaultKH  hostKeyRepo  // the ~/.ssh/known_hosts it started with
	configRepo configRepo   // nil: ~/.ssh/config, as bbssh/ssh
}

func newAgent() *agentObj {
	local := &localRepo{}
	kh := &knownHostsRepo{bbssh.NewKnownHostsFile("~/.ssh/known_hosts")}
	return &agentObj{local: local, idRepo: local, hostKeys: kh, defaultKH: kh}
}

func (a *API) agent(v any) (*agentObj, error) {
	obj, err := a.reg.Get("agent", v)
	if err != nil {
		return nil, err
	}
	return obj.(*agentObj), nil
}

// applyAgent makes opts use the agent's identities, host keys and config.
func applyAgent(opts *bbssh.Options, ag *agentObj, hostKeys, config bool) {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	opts.Identities = identitySource{ag.idRepo}
	// The default ~/.ssh/known_hosts is the engine's own default, which
	// a config's UserKnownHostsFile may change, as in OpenSSH and JSch.
	if hostKeys && ag.hostKeys != ag.defaultKH {
		useHostKeyRepo(opts, ag.hostKeys)
	}
	if config && ag.configRepo != nil {
		opts.ConfigSource = configSource{ag.configRepo}
	}
}

// applyDefaults gives opts the defaults of agent/set-config (for settings
// still at their built-in value) and agent/set-debug-fn's logger (when it
// has none).
func (a *API) applyDefaults(opts *bbssh.Options) {
	a.low.mu.Lock()
	defaults, debugLog := a.low.defaults, a.low.debugLog
	for name, v := range defaults {
		k := configKeys[name]
		if k.get(opts) == k.get(&bbssh.Options{}) {
			k.set(opts, v)
		}
	}
	a.low.mu.Unlock()
	if opts.ReceiveWindow == nil {
		opts.ReceiveWindow = a.window
	}
	if debugLog != "" && opts.Log == nil {
		if obj, err := a.reg.Get("logger", debugLog); err == nil {
			opts.Log = obj.(*logger).log
		}
	}
}

// lowerOptions applies the options of bbssh/ssh that name lower-level
// objects: :agent (its identities, and its host keys and config unless
// :known-hosts or :config-file say otherwise), :identity-repository and
// :host-key-repository; then the agent/set-config defaults.
func (a *API) lowerOptions(opts *bbssh.Options, m pod.Map) error {
	if v, ok := m.Get("agent"); ok && v != nil {
		ag, err := a.agent(v)
		if err != nil {
			return err
		}
		applyAgent(opts, ag, !m.Has("known-hosts"), !m.Has("config-file"))
	}
	if v, ok := m.Get("identity-repository"); ok && v != nil {
		r, err := a.identityRepo(v)
		if err != nil {
			return err
		}
		opts.Identities = identitySource{r}
	}
	if v, ok := m.Get("host-key-repository"); ok && v != nil {
		r, err := a.hostKeyRepo(v)
		if err != nil {
			return err
		}
		useHostKeyRepo(opts, r)
	}
	a.applyDefaults(opts)
	return nil
}

// identitySpec is add-identity's map.
type identitySpec struct {
	file, pubFile, name string
	priv, pub, pass     []byte
	id                  any // an identity handle
}

func readIdentitySpec(m pod.Map) (s identitySpec, err error) {
	defer asBadOption(&err)
	for _, k := range m.Keys() {
		switch k {
		case "file", "pub-file", "name", "private-key", "public-key", "passphrase", "identity":
		default:
			return s, badOption("unknown key :%s of add-identity", k)
		}
	}
	if s.file, err = m.String("file", ""); err != nil {
		return s, err
	}
	if s.pubFile, err = m.String("pub-file", ""); err != nil {
		return s, err
	}
	if s.name, err = m.String("name", ""); err != nil {
		return s, err
	}
	for _, b := range []struct {
		key string
		out *[]byte
	}{{"private-key", &s.priv}, {"public-key", &s.pub}, {"passphrase", &s.pass}} {
		v, err := m.String(b.key, "")
		if err != nil {
			return s, err
		}
		if v != "" {
			if *b.out, err = decodeB64(v); err != nil {
				return s, badOption(":%s of add-identity is not base64", b.key)
			}
		}
	}
	s.id, _ = m.Get("identity")
	return s, nil
}

// addIdentity is agent/add-identity: a key file, key bytes or an
// identity, decrypted now when a passphrase is given (a wrong one is an
// error, as JSch).
func (a *API) addIdentity(ctx context.Context, ag *agentObj, s identitySpec) error {
	var id identity
	var kp *bbssh.KeyPair
	var err error
	switch {
	case s.id != nil:
		if id, err = a.identity(s.id); err != nil {
			return err
		}
	case s.file != "":
		if kp, err = bbssh.LoadKeyPairFiles(s.file, s.pubFile); err != nil {
			return err
		}
		id = &keyIdentity{kp: kp, nameText: s.file}
	case s.priv != nil:
		if kp, err = bbssh.LoadKeyPair(s.priv, s.pub); err != nil {
			return err
		}
		if s.name == "" {
			s.name = "inline key"
		}
		id = &keyIdentity{kp: kp, nameText: s.name}
	default:
		return badOption("add-identity needs a key file, key bytes or an identity")
	}
	if s.pass != nil {
		enc, err := id.isEncrypted(ctx)
		if err != nil {
			return err
		}
		if enc {
			ok, err := id.setPassphrase(ctx, s.pass)
			if err != nil {
				return err
			}
			if !ok {
				name, _ := id.name(ctx)
				return pod.Errorf(ErrorNS+"/bad-key", "the passphrase does not decrypt identity %s", name)
			}
		}
	}
	ag.mu.Lock()
	repo := ag.idRepo
	ag.mu.Unlock()
	if repo == identityRepo(ag.local) {
		a.addToLocal(ag, id)
		return nil
	}
	// Another repository (an ssh-agent, the script's) takes private keys
	// as their file contents: only keys the pod holds, decrypted.
	if kp == nil {
		return pod.Errorf(ErrorNS+"/unsupported", "only key files and key bytes can be added to a repository other than the agent's own; add the identity to that repository instead")
	}
	if kp.IsEncrypted() {
		return pod.Errorf(ErrorNS+"/bad-key", "identity %s is encrypted: give its passphrase to add it to another repository than the agent's own", s.file+s.name)
	}
	pem, err := kp.PrivateKeyPEM(nil)
	if err != nil {
		return err
	}
	_, err = repo.add(ctx, pem)
	return err
}

// removeIdentity is agent/remove-identity, by name or identity.
func (a *API) removeIdentity(ctx context.Context, ag *agentObj, v any) error {
	ag.mu.Lock()
	repo := ag.idRepo
	ag.mu.Unlock()
	var match func(identity) bool
	if name, isName := v.(string); isName {
		match = func(id identity) bool { n, err := id.name(ctx); return err == nil && n == name }
	} else {
		target, err := a.identity(v)
		if err != nil {
			return badOption("remove-identity wants an identity name or handle, got %s", pod.Describe(v))
		}
		blob, _ := target.publicKeyBlob(ctx)
		match = func(id identity) bool {
			if id == target {
				return true
			}
			b, err := id.publicKeyBlob(ctx)
			return err == nil && blob != nil && bytes.Equal(b, blob)
		}
	}
	if repo == identityRepo(ag.local) {
		_, err := ag.local.removeWhere(ctx, match)
		return err
	}
	ids, err := repo.identities(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if match(id) {
			blob, err := id.publicKeyBlob(ctx)
			if err != nil {
				return err
			}
			if _, err := repo.remove(ctx, blob); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *API) registerAgent(ns, sessionNS *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 0, MaxArgs: 0,
		Doc:      "Creates a bbssh agent (bbssh 0.6's JSch instance, not an ssh-agent): identities, host keys and config for the sessions it makes. E.g. (new) ;; => :bbssh/agent-1",
		Arglists: []string{"[]"},
		Fn:       func(c *pod.Call) (any, error) { return a.reg.Put("agent", newAgent()), nil }})
	agentFn := func(name, doc string, arglists []string, min, max int, f func(c *pod.Call, ag *agentObj) (any, error)) {
		ns.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				ag, err := a.agent(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				v, err := f(c, ag)
				return v, engineError(err)
			}})
	}
	agentFn("get-session", "An unconnected session to host (user nil: the config's or the local user; port nil: the config's or 22) using the agent's identities, host keys and config. E.g. (get-session agent \"example.com\" \"me\" 2222) ;; => :bbssh/session-6",
		[]string{"[agent host user port]"}, 4, 4,
		func(c *pod.Call, ag *agentObj) (any, error) {
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			if host == "" {
				return nil, badOption("host must not be empty")
			}
			user, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			var port int64
			if c.Args.Get(3) != nil {
				if port, err = c.Args.Int(3); err != nil {
					return nil, err
				}
				if port < 1 || port > 65535 {
					return nil, badOption("port must be between 1 and 65535, got %d", port)
				}
			}
			opts := bbssh.Options{Host: host, User: user, Port: int(port), NoAgent: true, NoDefaultIdentities: true,
				Prompter: bbssh.TerminalPrompter{}, Messages: a.Stderr}
			applyAgent(&opts, ag, true, true)
			a.applyDefaults(&opts)
			s := bbssh.NewSession(opts)
			h := a.reg.Put("session", s)
			a.holdParts(s, ag) // the agent and what it holds live while s does (holds.go)
			return h, nil
		})
	agentFn("get-identity-repository", "The agent's identity repository (its own unless set). E.g. (get-identity-repository agent) ;; => :bbssh/identity-repository-2",
		[]string{"[agent]"}, 1, 1,
		func(c *pod.Call, ag *agentObj) (any, error) {
			ag.mu.Lock()
			repo := ag.idRepo
			ag.mu.Unlock()
			h := a.reg.Put("identity-repository", repo)
			if hd, ok := repo.(holder); ok { // the agent's own: it holds its identities
				a.holdParts(repo, hd.parts()...)
			}
			return h, nil
		})
	agentFn("set-identity-repository", "Sets the identity repository of the agent's sessions (nil: its own). E.g. (set-identity-repository agent repo)",
		[]string{"[agent identity-repository]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			var r identityRepo = ag.local
			if v := c.Args.Get(1); v != nil {
				var err error
				if r, err = a.identityRepo(v); err != nil {
					return nil, err
				}
			}
			ag.mu.Lock()
			ag.idRepo = r
			ag.mu.Unlock()
			a.holdParts(ag, r)
			return nil, nil
		})
	agentFn("get-config-repository", "The agent's config repository; nil means ~/.ssh/config, as bbssh/ssh. E.g. (get-config-repository agent) ;; => nil",
		[]string{"[agent]"}, 1, 1,
		func(c *pod.Call, ag *agentObj) (any, error) {
			ag.mu.Lock()
			defer ag.mu.Unlock()
			if ag.configRepo == nil {
				return nil, nil
			}
			return a.reg.Put("config-repository", ag.configRepo), nil
		})
	agentFn("set-config-repository", "Sets the config repository of the agent's sessions (nil: ~/.ssh/config). E.g. (set-config-repository agent repo)",
		[]string{"[agent config-repository]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			var r configRepo
			if v := c.Args.Get(1); v != nil {
				var err error
				if r, err = a.configRepo(v); err != nil {
					return nil, err
				}
			}
			ag.mu.Lock()
			ag.configRepo = r
			ag.mu.Unlock()
			if r != nil {
				a.holdParts(ag, r)
			}
			return nil, nil
		})
	agentFn("get-host-key-repository", "The agent's host key repository (~/.ssh/known_hosts unless set). E.g. (get-host-key-repository agent) ;; => :bbssh/host-key-repository-3",
		[]string{"[agent]"}, 1, 1,
		func(c *pod.Call, ag *agentObj) (any, error) {
			ag.mu.Lock()
			defer ag.mu.Unlock()
			return a.reg.Put("host-key-repository", ag.hostKeys), nil
		})
	agentFn("set-host-key-repository", "Sets the host key repository of the agent's sessions. E.g. (set-host-key-repository agent repo)",
		[]string{"[agent host-key-repository]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			r, err := a.hostKeyRepo(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			ag.mu.Lock()
			ag.hostKeys = r
			ag.mu.Unlock()
			a.holdParts(ag, r)
			return nil, nil
		})
	agentFn("set-known-hosts", "Makes a known_hosts file the agent's host key repository. E.g. (set-known-hosts agent \"~/.ssh/known_hosts\")",
		[]string{"[agent file]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			file, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			if file == "" {
				return nil, badOption("known_hosts file name must not be empty")
			}
			ag.mu.Lock()
			ag.hostKeys = &knownHostsRepo{bbssh.NewKnownHostsFile(file)}
			ag.mu.Unlock()
			return nil, nil
		})
	agentFn("set-known-hosts-content", "Makes known_hosts content (base64), held in the pod, the agent's host key repository. E.g. (set-known-hosts-content agent \"ZXhhbXBsZS5jb20g...\")",
		[]string{"[agent content-b64]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			content, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			ag.mu.Lock()
			ag.hostKeys = &knownHostsRepo{bbssh.NewKnownHostsContent(content)}
			ag.mu.Unlock()
			return nil, nil
		})
	agentFn("add-identity", "Adds an identity: {:file f :pub-file p} or {:name n :private-key b64 :public-key b64} or {:identity handle}, with :passphrase b64. E.g. (add-identity agent {:file \"/home/me/.ssh/id_ed25519\"})",
		[]string{"[agent spec]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) {
			m, err := c.Args.Map(1)
			if err != nil {
				return nil, err
			}
			s, err := readIdentitySpec(m)
			if err != nil {
				return nil, err
			}
			return nil, a.addIdentity(c.Ctx, ag, s)
		})
	agentFn("remove-identity", "Removes identities by name, or an identity. E.g. (remove-identity agent \"/home/me/.ssh/id_ed25519\")",
		[]string{"[agent name-or-identity]"}, 2, 2,
		func(c *pod.Call, ag *agentObj) (any, error) { return nil, a.removeIdentity(c.Ctx, ag, c.Args.Get(1)) })
	agentFn("get-identity-names", "The names of the identities of the agent's repository. E.g. (get-identity-names agent) ;; => [\"/home/me/.ssh/id_ed25519\"]",
		[]string{"[agent]"}, 1, 1,
		func(c *pod.Call, ag *agentObj) (any, error) {
			ag.mu.Lock()
			repo := ag.idRepo
			ag.mu.Unlock()
			ids, err := repo.identities(c.Ctx)
			if err != nil {
				return nil, err
			}
			names := []any{}
			for _, id := range ids {
				n, err := id.name(c.Ctx)
				if err != nil {
					return nil, err
				}
				names = append(names, n)
			}
			return names, nil
		})
	agentFn("remove-all-identities", "Removes every identity of the agent's repository. E.g. (remove-all-identities agent)",
		[]string{"[agent]"}, 1, 1,
		func(c *pod.Call, ag *agentObj) (any, error) {
			ag.mu.Lock()
			repo := ag.idRepo
			ag.mu.Unlock()
			return nil, repo.removeAll(c.Ctx)
		})
	ns.Add(&pod.Var{Name: "get-config", MinArgs: 1, MaxArgs: 1,
		Doc:      "A default setting of new sessions, as a string (see session/get-config for the keys). E.g. (get-config \"StrictHostKeyChecking\") ;; => \"ask\"",
		Arglists: []string{"[key]"},
		Fn: func(c *pod.Call) (any, error) {
			k, err := lookupConfigKey(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			var o bbssh.Options
			a.applyDefaults(&o)
			return k.get(&o), nil
		}})
	ns.Add(&pod.Var{Name: "set-config", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets a default setting of the sessions made from now on, where they do not set it themselves. E.g. (set-config \"StrictHostKeyChecking\" \"no\")",
		Arglists: []string{"[key value]"},
		Fn: func(c *pod.Call) (any, error) {
			k, err := lookupConfigKey(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			v, err := configValue(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			var probe bbssh.Options
			if err := k.set(&probe, v); err != nil {
				return nil, err
			}
			a.low.mu.Lock()
			a.low.defaults[normaliseConfigKey(k.name)] = v
			a.low.mu.Unlock()
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "set-debug-fn", MinArgs: 1, MaxArgs: 1,
		Doc:      "Sends the debug messages of sessions made from now on (that have no :debug-fn) to a logger (pod.epiccastle.bbssh.pod.log/new); nil stops. E.g. (set-debug-fn :bbssh/logger-2)",
		Arglists: []string{"[logger]"},
		Fn: func(c *pod.Call) (any, error) {
			var h pod.Handle
			if v := c.Args.Get(0); v != nil {
				if _, err := a.reg.Get("logger", v); err != nil {
					return nil, err
				}
				h = v.(pod.Handle)
			}
			a.low.mu.Lock()
			old := a.low.debugLog
			a.low.debugLog = h
			a.low.mu.Unlock()
			if old != "" && old != h {
				if obj, err := a.reg.Release(old); err == nil {
					obj.(*logger).Close()
				}
			}
			return nil, nil
		}})
	sessionFn := func(name, doc, arg string, set func(o *bbssh.Options, v any) error) {
		sessionNS.Add(&pod.Var{Name: name, MinArgs: 2, MaxArgs: 2, Doc: doc, Arglists: []string{"[session " + arg + "]"},
			Fn: func(c *pod.Call) (any, error) {
				s, err := a.session(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				s.Update(func(o *bbssh.Options) { err = set(o, c.Args.Get(1)) })
				if err == nil && c.Args.Get(1) != nil {
					if _, obj, lerr := a.reg.Lookup(c.Args.Get(1)); lerr == nil {
						a.holdParts(s, obj) // the session keeps what it uses (holds.go)
					}
				}
				return nil, err
			}})
	}
	sessionFn("set-identity-repository", "Offers the identities of a repository from the next connect (nil: none). E.g. (set-identity-repository s repo)", "identity-repository",
		func(o *bbssh.Options, v any) error {
			if v == nil {
				o.Identities = nil
				return nil
			}
			r, err := a.identityRepo(v)
			if err == nil {
				o.Identities = identitySource{r}
			}
			return err
		})
	sessionFn("set-host-key-repository", "Checks server keys with a host key repository from the next connect. E.g. (set-host-key-repository s repo)", "host-key-repository",
		func(o *bbssh.Options, v any) error {
			r, err := a.hostKeyRepo(v)
			if err == nil {
				useHostKeyRepo(o, r)
			}
			return err
		})
}
