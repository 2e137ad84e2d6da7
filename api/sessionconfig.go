package api

import (
	"strings"

	"bbssh/bbssh"
	"bbssh/pod"

	"golang.org/x/crypto/ssh"
)

// Session settings changed after creation, as bbssh's set-config,
// set-password, set-user-info and set-proxy do. Changes apply from the
// next connect.

// configKey names a setting of set-config/get-config, keyed by its
// normalised name (lower case, without - _ and .), so that JSch's names
// ("StrictHostKeyChecking", "cipher.s2c") and keywords
// (:strict-host-key-checking) both work.
type configKey struct {
	name string // as get-config reports it in errors
	get  func(o *bbssh.Options) string
	set  func(o *bbssh.Options, v string) error
}

func algorithmKey(name string, field func(*bbssh.Algorithms) *[]string, defaults func(ssh.Algorithms) []string) configKey {
	return configKey{name: name,
		get: func(o *bbssh.Options) string {
			if list := *field(&o.Algorithms); len(list) > 0 {
				return strings.Join(list, ",")
			}
			return strings.Join(defaults(ssh.SupportedAlgorithms()), ",")
		},
		set: func(o *bbssh.Options, v string) error {
			*field(&o.Algorithms) = splitAlgorithms(v)
			return nil
		}}
}

func splitAlgorithms(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var configKeys = map[string]configKey{
	"stricthostkeychecking": {name: "StrictHostKeyChecking",
		get: func(o *bbssh.Options) string {
			if o.HostKeyPolicy.Strict == "" {
				return "ask"
			}
			return o.HostKeyPolicy.Strict
		},
		set: func(o *bbssh.Options, v string) error {
			switch v {
			case "yes", "no", "ask", "accept-new":
				o.HostKeyPolicy.Strict = v
				return nil
			}
			return badOption("StrictHostKeyChecking must be yes, no, ask or accept-new, got %q", v)
		}},
	"kex":           algorithmKey("kex", func(a *bbssh.Algorithms) *[]string { return &a.KeyExchanges }, func(s ssh.Algorithms) []string { return s.KeyExchanges }),
	"serverhostkey": algorithmKey("server_host_key", func(a *bbssh.Algorithms) *[]string { return &a.HostKeys }, func(s ssh.Algorithms) []string { return s.HostKeys }),
	"cipher":        algorithmKey("cipher", func(a *bbssh.Algorithms) *[]string { return &a.Ciphers }, func(s ssh.Algorithms) []string { return s.Ciphers }),
	"ciphers2c":     algorithmKey("cipher.s2c", func(a *bbssh.Algorithms) *[]string { return &a.Ciphers }, func(s ssh.Algorithms) []string { return s.Ciphers }),
	"cipherc2s":     algorithmKey("cipher.c2s", func(a *bbssh.Algorithms) *[]string { return &a.Ciphers }, func(s ssh.Algorithms) []string { return s.Ciphers }),
	"mac":           algorithmKey("mac", func(a *bbssh.Algorithms) *[]string { return &a.MACs }, func(s ssh.Algorithms) []string { return s.MACs }),
	"macs2c":        algorithmKey("mac.s2c", func(a *bbssh.Algorithms) *[]string { return &a.MACs }, func(s ssh.Algorithms) []string { return s.MACs }),
	"macc2s":        algorithmKey("mac.c2s", func(a *bbssh.Algorithms) *[]string { return &a.MACs }, func(s ssh.Algorithms) []string { return s.MACs }),
}

func normaliseConfigKey(k string) string {
	return strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(k))
}

func lookupConfigKey(v any) (configKey, error) {
	name, err := pod.AsKeyword("config key", v)
	if err != nil {
		if name, err = pod.AsString("config key", v); err != nil {
			return configKey{}, badOption("a config key is a keyword or a string, got %s", pod.Describe(v))
		}
	}
	k, ok := configKeys[normaliseConfigKey(name)]
	if !ok {
		if len(name) > 64 {
			name = name[:64] + "..."
		}
		return k, badOption("unknown config key %q (known: StrictHostKeyChecking kex server_host_key cipher cipher.s2c cipher.c2s mac mac.s2c mac.c2s)", name)
	}
	return k, nil
}

// configValue renders a set-config value: booleans become yes/no.
func configValue(v any) (string, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return "yes", nil
		}
		return "no", nil
	case string:
		return x, nil
	}
	if kw, err := pod.AsKeyword("config value", v); err == nil {
		return kw, nil
	}
	return "", badOption("a config value is a string, keyword or boolean, got %s", pod.Describe(v))
}

func (a *API) registerSessionConfig(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "set-config", MinArgs: 3, MaxArgs: 3,
		Doc:      "Sets a setting (StrictHostKeyChecking, kex, server_host_key, cipher, mac...) for the next connect. E.g. (set-config s \"cipher\" \"aes256-ctr\")",
		Arglists: []string{"[session key value]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			k, err := lookupConfigKey(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			v, err := configValue(c.Args.Get(2))
			if err != nil {
				return nil, err
			}
			s.Update(func(o *bbssh.Options) { err = k.set(o, v) })
			return nil, err
		}})
	ns.Add(&pod.Var{Name: "get-config", MinArgs: 2, MaxArgs: 2,
		Doc:      "The current value of a setting, as a string (algorithm lists comma-separated). E.g. (get-config s \"kex\")",
		Arglists: []string{"[session key]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			k, err := lookupConfigKey(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			o := s.Options()
			return k.get(&o), nil
		}})
	ns.Add(&pod.Var{Name: "set-password", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets the password for the next connect. E.g. (set-password s \"secret\")",
		Arglists: []string{"[session password]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			pw, ok := c.Args.Get(1).(string)
			if !ok { // named by type only: the value is a secret
				return nil, pod.Errorf(pod.BadArgument, "argument 2 (the password) must be a string, got a value of type %s", pod.TypeName(c.Args.Get(1)))
			}
			s.Update(func(o *bbssh.Options) { o.Password = pw })
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "set-user-info", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets the user-info that answers prompts for the next connect. E.g. (set-user-info s :bbssh/user-info-2)",
		Arglists: []string{"[session user-info]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			u, err := a.userInfo(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			a.reg.Depend(s, u) // the session keeps its user-info (cleanup.go)
			s.Update(func(o *bbssh.Options) {
				o.Prompter = u
				if o.Messages != nil && u.methods["show-message"] {
					o.Messages = u
				}
			})
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "set-host", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets the host the next connect goes to. E.g. (set-host s \"backup.example.com\")",
		Arglists: []string{"[session host]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			if host == "" {
				return nil, badOption("host must not be empty")
			}
			s.Update(func(o *bbssh.Options) { o.Host = host })
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "set-port", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets the port the next connect goes to. E.g. (set-port s 2222)",
		Arglists: []string{"[session port]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			port, err := c.Args.Int(1)
			if err != nil {
				return nil, err
			}
			if port < 1 || port > 65535 {
				return nil, badOption("port must be between 1 and 65535, got %d", port)
			}
			s.Update(func(o *bbssh.Options) { o.Port = int(port) })
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "set-proxy", MinArgs: 2, MaxArgs: 2,
		Doc:      "Reaches the server through a proxy from the next connect: {:type :http|:socks4|:socks5 :host :port :username :password}. E.g. (set-proxy s {:type :socks5 :host \"127.0.0.1\" :port 1080})",
		Arglists: []string{"[session proxy]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			p, err := parseProxy(c.Args.Get(1))
			if err != nil {
				return nil, err
			}
			s.Update(func(o *bbssh.Options) { o.Proxy = &p })
			return nil, nil
		}})
}
