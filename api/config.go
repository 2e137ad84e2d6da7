package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// OpenSSH client configs (pod.epiccastle.bbssh.config and
// config-repository): a config repository says, for a host, what config
// applies (a config); a bbssh agent hands its repository to the sessions
// it makes. Both may be parsed files or text, or implemented in the
// script.

// configRepo is a config repository.
type configRepo interface {
	config(ctx context.Context, host string) (hostConfig, error)
}

// hostConfig is what a repository says about one host.
type hostConfig interface {
	hostName(ctx context.Context) (string, error)
	user(ctx context.Context) (string, error)
	port(ctx context.Context) (int, error)
	value(ctx context.Context, key string) (string, error)
	values(ctx context.Context, key string) ([]string, error)
	// resolve gives the settings Connect applies.
	resolve(ctx context.Context, host, localUser string) (bbssh.HostConfig, error)
}

// opensshRepo is a parsed config file or text. Its configs are kept per
// host, so that asking twice gives the same handle.
type opensshRepo struct {
	cfg *bbssh.SSHConfig

	mu    sync.Mutex
	hosts map[string]*opensshConfig
}

func (r *opensshRepo) config(_ context.Context, host string) (hostConfig, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.hosts[host]; ok {
		return c, nil
	}
	hs, err := r.cfg.Host(host)
	if err != nil {
		return nil, err
	}
	c := &opensshConfig{cfg: r.cfg, host: host, hs: hs}
	r.hosts[host] = c
	return c, nil
}

// opensshConfig is what a parsed config says about one host.
type opensshConfig struct {
	cfg  *bbssh.SSHConfig
	host string
	hs   *bbssh.HostSettings
}

func (c *opensshConfig) hostName(context.Context) (string, error) { return c.hs.Value("HostName"), nil }
func (c *opensshConfig) user(context.Context) (string, error)     { return c.hs.Value("User"), nil }
func (c *opensshConfig) port(context.Context) (int, error)        { return c.hs.Port(), nil }
func (c *opensshConfig) value(_ context.Context, k string) (string, error) {
	return c.hs.Value(k), nil
}
func (c *opensshConfig) values(_ context.Context, k string) ([]string, error) {
	return c.hs.Values(k), nil
}
func (c *opensshConfig) resolve(_ context.Context, host, localUser string) (bbssh.HostConfig, error) {
	return c.cfg.HostConfig(host, localUser)
}

// bbConfigRepo is a config repository implemented in the script.
type bbConfigRepo struct {
	*bbObject
	a *API
}

func (r *bbConfigRepo) config(ctx context.Context, host string) (hostConfig, error) {
	v, err := r.invoke(ctx, "get-config", host)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("the config-repository's :get-config returned nil for %q", host)
	}
	return r.a.hostConfig(v)
}

// bbConfig is a config implemented in the script.
type bbConfig struct{ *bbObject }

func (c *bbConfig) hostName(ctx context.Context) (string, error) {
	return c.invokeString(ctx, "get-hostname")
}
func (c *bbConfig) user(ctx context.Context) (string, error) { return c.invokeString(ctx, "get-user") }
func (c *bbConfig) port(ctx context.Context) (int, error) {
	v, err := c.invoke(ctx, "get-port")
	if err != nil || v == nil {
		return -1, err
	}
	n, err := pod.AsInt("the config's :get-port", v)
	return int(n), err
}
func (c *bbConfig) value(ctx context.Context, k string) (string, error) {
	return c.invokeString(ctx, "get-value", k)
}
func (c *bbConfig) values(ctx context.Context, k string) ([]string, error) {
	v, err := c.invoke(ctx, "get-values", k)
	if err != nil || v == nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		if s, isString := v.(string); isString {
			return []string{s}, nil
		}
		return nil, fmt.Errorf("the config's :get-values returned %s, not strings", pod.Describe(v))
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, err := pod.AsString("an item of the config's :get-values", x)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resolve asks the script for every keyword the engine applies (HostName,
// User and Port through their own methods, multi-valued ones through
// :get-values) and reads the answers as config text.
func (c *bbConfig) resolve(ctx context.Context, host, localUser string) (bbssh.HostConfig, error) {
	vals := map[string][]string{}
	for _, k := range bbssh.SSHConfigKeywords {
		var got []string
		switch k.Name {
		case "HostName":
			s, err := c.hostName(ctx)
			if err != nil {
				return bbssh.HostConfig{}, err
			}
			got = []string{s}
		case "User":
			s, err := c.user(ctx)
			if err != nil {
				return bbssh.HostConfig{}, err
			}
			got = []string{s}
		case "Port":
			p, err := c.port(ctx)
			if err != nil {
				return bbssh.HostConfig{}, err
			}
			if p > 0 {
				got = []string{fmt.Sprint(p)}
			}
		default:
			if k.Multi {
				list, err := c.values(ctx, k.Name)
				if err != nil {
					return bbssh.HostConfig{}, err
				}
				got = list
			} else {
				s, err := c.value(ctx, k.Name)
				if err != nil {
					return bbssh.HostConfig{}, err
				}
				got = []string{s}
			}
		}
		vals[k.Name] = got
	}
	text, err := bbssh.ConfigText(vals)
	if err != nil {
		return bbssh.HostConfig{}, err
	}
	return bbssh.ParseSSHConfig("the script's config", text, host, localUser)
}

func (a *API) configRepo(v any) (configRepo, error) {
	obj, err := a.reg.Get("config-repository", v)
	if err != nil {
		return nil, err
	}
	return obj.(configRepo), nil
}

func (a *API) hostConfig(v any) (hostConfig, error) {
	obj, err := a.reg.Get("config", v)
	if err != nil {
		return nil, err
	}
	return obj.(hostConfig), nil
}

// configTimeout bounds the script's answers while a session resolves its
// config (resolution has no context of its own).
const configTimeout = 60 * time.Second

// configSource turns a repository into the engine's ConfigSource.
type configSource struct{ repo configRepo }

func (s configSource) HostConfig(host, localUser string) (bbssh.HostConfig, error) {
	ctx, cancel := context.WithTimeout(context.Background(), configTimeout)
	defer cancel()
	c, err := s.repo.config(ctx, host)
	if err != nil {
		return bbssh.HostConfig{}, err
	}
	return c.resolve(ctx, host, localUser)
}

func (a *API) registerConfig(cfgNS, repoNS *pod.Namespace) {
	repoNS.Add(&pod.Var{Name: "openssh-config-file", MinArgs: 1, MaxArgs: 1,
		Doc:      "Parses an OpenSSH client config file (~ expanded) into a config repository. E.g. (openssh-config-file \"~/.ssh/config\") ;; => :bbssh/config-repository-3",
		Arglists: []string{"[path]"},
		Fn: func(c *pod.Call) (any, error) {
			path, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			cfg, err := bbssh.LoadSSHConfigFile(path)
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("config-repository", &opensshRepo{cfg: cfg, hosts: map[string]*opensshConfig{}}), nil
		}})
	repoNS.Add(&pod.Var{Name: "openssh-config-string", MinArgs: 1, MaxArgs: 1,
		Doc:      "Parses OpenSSH client config text into a config repository. E.g. (openssh-config-string \"Host db\\n  Port 2222\\n\")",
		Arglists: []string{"[text]"},
		Fn: func(c *pod.Call) (any, error) {
			text, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			cfg, err := bbssh.ParseSSHConfigText("config string", []byte(text))
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("config-repository", &opensshRepo{cfg: cfg, hosts: map[string]*opensshConfig{}}), nil
		}})
	repoNS.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc: "Creates a config repository whose :get-config is the client's function: sends {:result handle}, then " +
			"{:method :get-config :id :args [host]} questions until released. E.g. (new [:get-config])",
		Arglists: []string{"[method-names]"},
		Stream: a.bbObjectVar("config-repository", []string{"get-config"}, func(o *bbObject) any {
			o.what = "config-repository"
			return &bbConfigRepo{bbObject: o, a: a}
		})})
	repoNS.Add(&pod.Var{Name: "get-config", MinArgs: 2, MaxArgs: 2,
		Doc:      "The config a repository gives host, as a handle. E.g. (get-config repo \"db\") ;; => :bbssh/config-5",
		Arglists: []string{"[config-repository host]"},
		Fn: func(c *pod.Call) (any, error) {
			r, err := a.configRepo(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			cfg, err := r.config(c.Ctx, host)
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("config", cfg), nil
		}})
	cfgNS.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc: "Creates a config whose methods (:get-hostname :get-user :get-port :get-value :get-values) are the client's functions: " +
			"sends {:result handle}, then {:method :id :args} questions until released. E.g. (new [:get-hostname :get-port])",
		Arglists: []string{"[method-names]"},
		Stream: a.bbObjectVar("config", []string{"get-hostname", "get-user", "get-port", "get-value", "get-values"}, func(o *bbObject) any {
			return &bbConfig{o}
		})})
	accessor := func(name, doc string, nargs int, f func(ctx context.Context, hc hostConfig, key string) (any, error)) {
		arglists := []string{"[config]"}
		if nargs == 2 {
			arglists = []string{"[config key]"}
		}
		cfgNS.Add(&pod.Var{Name: name, MinArgs: nargs, MaxArgs: nargs, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				hc, err := a.hostConfig(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				key := ""
				if nargs == 2 {
					if key, err = c.Args.String(1); err != nil {
						return nil, err
					}
				}
				v, err := f(c.Ctx, hc, key)
				return v, engineError(err)
			}})
	}
	accessor("get-hostname", "The HostName value, nil when unset. E.g. (get-hostname cfg) ;; => \"db.internal\"", 1,
		func(ctx context.Context, hc hostConfig, _ string) (any, error) { return orNil(hc.hostName(ctx)) })
	accessor("get-user", "The User value, nil when unset. E.g. (get-user cfg) ;; => \"deploy\"", 1,
		func(ctx context.Context, hc hostConfig, _ string) (any, error) { return orNil(hc.user(ctx)) })
	accessor("get-port", "The Port value, -1 when unset. E.g. (get-port cfg) ;; => 2222", 1,
		func(ctx context.Context, hc hostConfig, _ string) (any, error) { return hc.port(ctx) })
	accessor("get-value", "The first value of a keyword (case does not matter), nil when unset. E.g. (get-value cfg \"ProxyJump\")", 2,
		func(ctx context.Context, hc hostConfig, k string) (any, error) { return orNil(hc.value(ctx, k)) })
	accessor("get-values", "Every value of a keyword, as a vector (nil when unset). E.g. (get-values cfg \"IdentityFile\") ;; => [\"~/.ssh/a\" \"~/.ssh/b\"]", 2,
		func(ctx context.Context, hc hostConfig, k string) (any, error) {
			vs, err := hc.values(ctx, k)
			if err != nil || len(vs) == 0 {
				return nil, err
			}
			out := make([]any, len(vs))
			for i, v := range vs {
				out[i] = v
			}
			return out, nil
		})
}

// orNil gives nil for an empty string.
func orNil(s string, err error) (any, error) {
	if err != nil || s == "" {
		return nil, err
	}
	return s, nil
}
