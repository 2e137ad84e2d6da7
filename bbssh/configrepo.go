package bbssh

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// ConfigSource says what an OpenSSH client config holds for a host: JSch's
// ConfigRepository. Options.ConfigSource replaces the config file with one.
type ConfigSource interface {
	HostConfig(host, localUser string) (HostConfig, error)
}

// SSHConfig is a parsed OpenSSH client config, from a file or from text
// (JSch's OpenSSHConfig, bbssh 0.6's config-repository/openssh-config-*).
// It is read once; lookups decode it afresh, so it is safe for concurrent
// use. It is a ConfigSource.
type SSHConfig struct {
	name string // the file, or a description of the text
	text []byte
}

// ParseSSHConfigText checks and keeps config text; name names it in
// errors, e.g. "config string".
func ParseSSHConfigText(name string, text []byte) (*SSHConfig, error) {
	stripped, _ := stripMatch(name, text)
	if _, err := decodeSSHConfig(stripped); err != nil {
		return nil, errorf(KindBadOption, err, "cannot parse ssh config %s", name)
	}
	return &SSHConfig{name: name, text: bytes.Clone(text)}, nil
}

// LoadSSHConfigFile reads and checks the config file at path (~/ is
// expanded).
func LoadSSHConfigFile(path string) (*SSHConfig, error) {
	path = expandHome(path)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, errorf(KindBadOption, nil, "cannot read ssh config %s: %v", path, pathErr(err))
	}
	return ParseSSHConfigText(path, text)
}

// Name returns the file name, or the description of the text.
func (c *SSHConfig) Name() string { return c.name }

// HostConfig resolves what the config says about host, as ReadSSHConfig.
func (c *SSHConfig) HostConfig(host, localUser string) (HostConfig, error) {
	return ParseSSHConfig(c.name, c.text, host, localUser)
}

// Host returns the raw settings of the blocks that apply to host.
func (c *SSHConfig) Host(host string) (*HostSettings, error) {
	stripped, _ := stripMatch(c.name, c.text)
	cfg, err := decodeSSHConfig(stripped)
	if err != nil {
		return nil, errorf(KindBadOption, err, "cannot parse ssh config %s", c.name)
	}
	alias := strings.ToLower(host)
	return &HostSettings{alias: alias, cfg: selectHosts(cfg, alias)}, nil
}

// HostSettings are the raw values a config gives one host (JSch's
// ConfigRepository.Config): keywords are matched without regard to case;
// nothing is expanded and no default is filled in.
type HostSettings struct {
	alias string
	cfg   *ssh_config.Config
}

// Value returns the first value of keyword, "" when unset.
func (h *HostSettings) Value(keyword string) string {
	v, _ := h.cfg.Get(h.alias, keyword)
	return v
}

// Values returns every value of keyword (IdentityFile, LocalForward...),
// in order; nil when unset.
func (h *HostSettings) Values(keyword string) []string {
	v, _ := h.cfg.GetAll(h.alias, keyword)
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Port returns the Port value, or -1 when unset or not a number (as JSch).
func (h *HostSettings) Port() int {
	p, err := strconv.Atoi(h.Value("Port"))
	if err != nil {
		return -1
	}
	return p
}

// SSHConfigKeywords are the keywords Connect applies from a config (see
// HostConfig); Multi marks those that may be given more than once.
var SSHConfigKeywords = []struct {
	Name  string
	Multi bool
}{
	{"HostName", false}, {"Port", false}, {"User", false},
	{"IdentityFile", true}, {"IdentitiesOnly", false}, {"UserKnownHostsFile", false},
	{"StrictHostKeyChecking", false}, {"HostKeyAlias", false},
	{"ProxyJump", false}, {"ProxyCommand", false},
	{"ConnectTimeout", false}, {"ServerAliveInterval", false}, {"ServerAliveCountMax", false},
	{"LocalForward", true}, {"RemoteForward", true}, {"DynamicForward", true},
	{"Ciphers", false}, {"KexAlgorithms", false}, {"MACs", false}, {"HostKeyAlgorithms", false},
}

// ConfigText renders keyword values as config text that applies to every
// host, so that values from elsewhere (a config implemented in a script)
// are read exactly as a file's. A value on more than one line is an error.
func ConfigText(values map[string][]string) ([]byte, error) {
	var b bytes.Buffer
	for _, k := range SSHConfigKeywords {
		for _, v := range values[k.Name] {
			if strings.ContainsAny(v, "\r\n") {
				return nil, errorf(KindBadOption, nil, "config value of %s must be one line, got %q", k.Name, v)
			}
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if k.Name == "IdentityFile" && strings.ContainsAny(v, " \t") && !strings.HasPrefix(v, `"`) {
				v = strconv.Quote(v)
			}
			b.WriteString(k.Name + " " + v + "\n")
		}
	}
	return b.Bytes(), nil
}
