package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"

	"olympos.io/encoding/edn"
)

// sshOptionKeys are the options of (bbssh/ssh host opts) that reach the
// pod. Client-only options (:no-connect, :port-forward-*) are handled by
// the client code before the call.
var sshOptionKeys = map[string]bool{
	"port": true, "username": true, "password": true, "identity": true,
	"passphrase": true, "private-key": true, "private-key-base64": true,
	"strict-host-key-checking": true, "accept-host-key": true, "known-hosts": true,
	"silence-messages": true, "connect-timeout": true, "identities-only": true,
	"agent-socket": true, "no-agent": true, "connection-options": true,
	"config-file": true, "proxy": true, "jump-host": true, "keepalive-interval": true,
	"keepalive-count-max": true, "connection-attempts": true, "channel-wait": true, "public-key": true, "public-key-base64": true, "user-info": true,
	"debug-log": true, // a logger handle (pod.epiccastle.bbssh.pod.log/new), from :debug-fn
	// handles of the lower-level namespaces (agent.go)
	"agent": true, "identity-repository": true, "host-key-repository": true,
}

// connectionOptionKeys are the keys of :connection-options, each a
// comma-separated list of algorithm names in order of preference.
var connectionOptionKeys = map[string]func(*bbssh.Algorithms) *[]string{
	"kex":             func(a *bbssh.Algorithms) *[]string { return &a.KeyExchanges },
	"cipher":          func(a *bbssh.Algorithms) *[]string { return &a.Ciphers },
	"mac":             func(a *bbssh.Algorithms) *[]string { return &a.MACs },
	"server-host-key": func(a *bbssh.Algorithms) *[]string { return &a.HostKeys },
}

// parseConnectionOptions reads :connection-options {:cipher "a,b" ...}.
func parseConnectionOptions(m pod.Map) (algs bbssh.Algorithms, err error) {
	v, ok := m.Get("connection-options")
	if !ok || v == nil {
		return algs, nil
	}
	opts, err := pod.AsMap("option :connection-options", v)
	if err != nil {
		return algs, err
	}
	for _, k := range opts.Keys() {
		field, known := connectionOptionKeys[k]
		if !known {
			return algs, badOption("unknown key :%s in :connection-options (known: :kex :cipher :mac :server-host-key)", k)
		}
		list, err := opts.String(k, "")
		if err != nil {
			return algs, err
		}
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				*field(&algs) = append(*field(&algs), name)
			}
		}
	}
	return algs, nil
}

// parseSSHOptions turns the option map of bbssh/ssh into engine options.
func parseSSHOptions(host string, m pod.Map) (o bbssh.Options, err error) {
	defer asBadOption(&err)
	o.Host = host
	for _, k := range m.Keys() {
		if !sshOptionKeys[k] {
			return o, badOption("unknown option :%s for bbssh/ssh", k)
		}
	}
	port, err := m.Int("port", 0)
	if err != nil {
		return o, err
	}
	if m.Has("port") && (port < 1 || port > 65535) {
		return o, badOption("option :port must be between 1 and 65535, got %d", port)
	}
	o.Port = int(port)
	if o.User, err = m.String("username", ""); err != nil {
		return o, err
	}
	if o.Password, err = secretOption(m, "password"); err != nil {
		return o, err
	}
	if o.Passphrase, err = secretOption(m, "passphrase"); err != nil {
		return o, err
	}
	if v, ok := m.Get("identity"); ok && v != nil {
		switch id := v.(type) {
		case string:
			o.IdentityFiles = []string{id}
		case []any:
			for i, x := range id {
				s, err := pod.AsString(fmt.Sprintf("option :identity item %d", i+1), x)
				if err != nil {
					return o, err
				}
				o.IdentityFiles = append(o.IdentityFiles, s)
			}
		default:
			return o, badOption("option :identity must be a file name or a vector of them, got %s", pod.Describe(v))
		}
	}
	if key, err := secretOption(m, "private-key"); err != nil {
		return o, err
	} else if key != "" {
		o.PrivateKey = privateKeyText(key)
	}
	if key, err := m.String("public-key", ""); err != nil {
		return o, err
	} else if key != "" {
		o.PublicKey = privateKeyText(key) // text as is, or 0.6's base64
	}
	if b64, err := m.String("public-key-base64", ""); err != nil {
		return o, err
	} else if b64 != "" {
		if o.PublicKey, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return o, badOption("option :public-key bytes are not valid base64")
		}
	}
	if b64, err := secretOption(m, "private-key-base64"); err != nil {
		return o, err
	} else if b64 != "" {
		if o.PrivateKey, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return o, badOption("option :private-key bytes are not valid base64")
		}
	}
	o.NoDefaultIdentities = m.Bool("identities-only", false)
	o.NoAgent = m.Bool("no-agent", false)
	if o.AgentSocket, err = m.String("agent-socket", ""); err != nil {
		return o, err
	}
	if v, ok := m.Get("known-hosts"); ok {
		switch kh := v.(type) {
		case nil:
		case bool:
			if !kh {
				o.KnownHosts = []string{}
			}
		case string:
			o.KnownHosts = []string{kh}
		default:
			return o, badOption("option :known-hosts must be a file name or false, got %s", pod.Describe(v))
		}
	}
	if o.HostKeyPolicy.Strict, err = strictOption(m); err != nil {
		return o, err
	}
	if o.HostKeyPolicy.Accept, err = acceptOption(m); err != nil {
		return o, err
	}
	timeout, err := m.Int("connect-timeout", 0)
	if err != nil {
		return o, err
	}
	if timeout < 0 {
		return o, badOption("option :connect-timeout must be a number of milliseconds >= 0, got %d", timeout)
	}
	o.ConnectTimeout = time.Duration(timeout) * time.Millisecond
	if o.Algorithms, err = parseConnectionOptions(m); err != nil {
		return o, err
	}
	if v, ok := m.Get("config-file"); ok {
		switch cf := v.(type) {
		case nil:
		case bool:
			o.NoConfig = !cf
		case string:
			o.ConfigFile = cf
		default:
			return o, badOption("option :config-file must be a file name or false, got %s", pod.Describe(v))
		}
	}
	if v, ok := m.Get("proxy"); ok && v != nil {
		p, err := parseProxy(v)
		if err != nil {
			return o, err
		}
		o.Proxy = &p
	}
	if v, ok := m.Get("jump-host"); ok && v != nil {
		if spec, isString := v.(string); isString {
			if o.JumpHosts, err = bbssh.ParseJumpHosts(spec); err != nil {
				return o, engineError(err)
			}
		}
	}
	interval, err := m.Int("keepalive-interval", 0)
	if err != nil {
		return o, err
	}
	if interval < 0 {
		return o, badOption("option :keepalive-interval must be a number of milliseconds >= 0, got %d", interval)
	}
	o.KeepaliveInterval = time.Duration(interval) * time.Millisecond
	count, err := m.Int("keepalive-count-max", 0)
	if err != nil {
		return o, err
	}
	if count < 0 {
		return o, badOption("option :keepalive-count-max must be >= 0, got %d", count)
	}
	o.KeepaliveCountMax = int(count)
	attempts, err := m.Int("connection-attempts", 0)
	if err != nil {
		return o, err
	}
	if attempts < 0 {
		return o, badOption("option :connection-attempts must be >= 1 (0 for the default), got %d", attempts)
	}
	o.ConnectionAttempts = int(attempts)
	wait, err := m.Int("channel-wait", 0)
	if err != nil {
		return o, err
	}
	if wait < 0 {
		return o, badOption("option :channel-wait must be a number of milliseconds >= 0, got %d", wait)
	}
	o.ChannelWait = time.Duration(wait) * time.Millisecond
	return o, nil
}

// privateKeyText accepts a key as its PEM/OpenSSH text or, as bbssh 0.6
// did, as the base64 of the key file.
func privateKeyText(key string) []byte {
	if strings.Contains(key, "-----BEGIN") {
		return []byte(key)
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key)); err == nil {
		return raw
	}
	return []byte(key)
}

// strictOption maps :strict-host-key-checking (true, false, :ask, "ask",
// :accept-new, "yes", "no") to OpenSSH's words.
func strictOption(m pod.Map) (string, error) {
	v, ok := m.Get("strict-host-key-checking")
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "yes", nil
		}
		return "no", nil
	case string, edn.Keyword:
		s := strings.TrimPrefix(fmt.Sprint(x), ":")
		switch s {
		case "yes", "no", "ask", "accept-new":
			return s, nil
		case "true":
			return "yes", nil
		case "false", "off":
			return "no", nil
		}
	}
	return "", badOption("option :strict-host-key-checking must be true, false, :ask or :accept-new, got %s", pod.Describe(v))
}

// acceptOption maps :accept-host-key (true, false, :new, "SHA256:...").
func acceptOption(m pod.Map) (string, error) {
	v, ok := m.Get("accept-host-key")
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "yes", nil
		}
		return "no", nil
	case edn.Keyword:
		if x == "new" {
			return "new", nil
		}
	case string:
		if x == "new" || strings.HasPrefix(x, "SHA256:") {
			return x, nil
		}
	}
	return "", badOption("option :accept-host-key must be true, false, :new or a \"SHA256:...\" fingerprint, got %s", pod.Describe(v))
}

// parseProxy reads {:type :http|:socks4|:socks5 :host h :port p
// :username u :password pw}.
func parseProxy(v any) (p bbssh.Proxy, err error) {
	defer asBadOption(&err)
	m, err := pod.AsMap("option :proxy", v)
	if err != nil {
		return p, err
	}
	for _, k := range m.Keys() {
		switch k {
		case "type", "host", "port", "username", "password":
		default:
			return p, badOption("unknown key :%s in :proxy (known: :type :host :port :username :password)", k)
		}
	}
	t, _ := m.Get("type")
	if p.Type, err = pod.AsKeyword("proxy :type", t); err != nil {
		if p.Type, err = pod.AsString("proxy :type", t); err != nil {
			return p, badOption("proxy :type must be :http, :socks4 or :socks5, got %s", pod.Describe(t))
		}
	}
	if p.Host, err = m.String("host", ""); err != nil {
		return p, err
	}
	port, err := m.Int("port", 0)
	if err != nil {
		return p, err
	}
	p.Port = int(port)
	if p.Username, err = m.String("username", ""); err != nil {
		return p, err
	}
	if p.Password, err = secretOption(m, "password"); err != nil {
		return p, err
	}
	if err := p.Validate(); err != nil {
		return p, engineError(err)
	}
	return p, nil
}

// secretOption reads option key of m, a string holding a secret (a
// password, passphrase or private key): a value of another type is named
// by its type only, so that the error never shows the secret.
func secretOption(m pod.Map, key string) (string, error) {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badOption("option :%s must be a string, got a value of type %s (not shown: it is a secret)", key, pod.TypeName(v))
	}
	return s, nil
}

func badOption(format string, args ...any) *pod.Error {
	return pod.Errorf(ErrorNS+"/bad-option", format, args...)
}

// asBadOption gives option errors of the protocol's bad-argument type the
// bad-option type, so that every wrong option value reads the same.
func asBadOption(err *error) {
	var pe *pod.Error
	if errors.As(*err, &pe) && pe.Type == pod.BadArgument {
		pe.Type = ErrorNS + "/bad-option"
	}
}
