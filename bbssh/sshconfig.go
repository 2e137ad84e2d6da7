package bbssh

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// HostConfig is what an ssh_config file says about one host. Zero values
// mean "not set": it holds only what the file sets, never OpenSSH's
// defaults, so that the caller can tell a setting from its absence and
// let explicit options win.
type HostConfig struct {
	// HostName is the real host to connect to, with %h and %% expanded;
	// "" if unset.
	HostName string
	// Port is 0 if unset.
	Port int
	User string
	// IdentityFiles are all IdentityFile values in order, with ~, %
	// tokens and ${VAR} expanded.
	IdentityFiles  []string
	IdentitiesOnly *bool
	// UserKnownHostsFiles are the files UserKnownHostsFile lists, expanded
	// as IdentityFiles are. "none" gives an empty non-nil slice.
	UserKnownHostsFiles []string
	// StrictHostKeyChecking is "yes", "no", "ask" or "accept-new"; "" if
	// unset.
	StrictHostKeyChecking string
	// ProxyJump is nil if unset or "none". At most one of ProxyJump and
	// ProxyCommand is set: as in OpenSSH, whichever comes first wins.
	ProxyJump []JumpHost
	// ProxyCommand has %h %p %r %n and %% expanded; "" if unset or "none".
	ProxyCommand   string
	ConnectTimeout time.Duration
	// ConnectionAttempts is 0 if unset.
	ConnectionAttempts  int
	ServerAliveInterval time.Duration
	// ServerAliveCountMax is 0 if unset.
	ServerAliveCountMax                            int
	LocalForwards, RemoteForwards, DynamicForwards []ForwardSpec
	// Ciphers, KexAlgorithms, MACs and HostKeyAlgorithms are raw values
	// (they may start with +, - or ^); "" if unset.
	Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms string
	// Warnings name what was skipped, such as Match blocks with criteria
	// other than host and all.
	Warnings []string
}

// JumpHost is one hop of ProxyJump: [user@]host[:port], or
// ssh://[user@]host[:port]. Zero User and Port mean not given.
type JumpHost struct {
	User string
	Host string
	Port int
}

// Token sets, as OpenSSH's ssh_config(5) TOKENS section gives them.
const (
	hostNameTokens = "h"
	proxyTokens    = "hnpr"
	pathTokens     = "CdhijkLlnpru"
)

// ReadSSHConfig reads the OpenSSH client config file at path and returns
// what it says about host, the name the user typed. localUser stands for
// %u and is the default for %r.
//
// The file is decoded by github.com/kevinburke/ssh_config, with these
// differences, which follow OpenSSH: Match blocks with criteria other than
// "host" and "all" are skipped with a warning (they cannot be evaluated
// here); "?" in host patterns matches exactly one character and host names
// match in lower case; ~, % tokens and ${VAR} are expanded; no default
// values are filled in.
//
// If path does not exist the error satisfies errors.Is(err,
// fs.ErrNotExist), so that a caller reading an optional file can ignore
// it. Other errors are of kind KindBadOption and name the file.
func ReadSSHConfig(path, host, localUser string) (HostConfig, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return HostConfig{}, errorf(KindBadOption, err, "cannot read ssh config")
	}
	return ParseSSHConfig(path, text, host, localUser)
}

// ParseSSHConfig is ReadSSHConfig for config text; path names it in
// errors and warnings.
func ParseSSHConfig(path string, text []byte, host, localUser string) (HostConfig, error) {
	var hc HostConfig
	text, hc.Warnings = stripMatch(path, text)
	cfg, err := decodeSSHConfig(text)
	if err != nil {
		return HostConfig{}, errorf(KindBadOption, err, "cannot parse ssh config %s", path)
	}
	r := &resolver{path: path, alias: strings.ToLower(host), cfg: selectHosts(cfg, strings.ToLower(host))}
	if err := r.resolve(&hc, host, localUser); err != nil {
		return HostConfig{}, err
	}
	return hc, nil
}

// decodeSSHConfig decodes text, turning a panic in the decoder into an
// error.
func decodeSSHConfig(text []byte) (cfg *ssh_config.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			cfg, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return ssh_config.DecodeBytes(text)
}

// stripMatch blanks out each Match block whose criteria are not just
// "all" or "host list" and returns a warning for each. ssh_config
// rejects most criteria and misreads "host a user b" as host patterns;
// OpenSSH's "host a,b" list is rewritten with spaces, which ssh_config
// reads. Blanking rather than deleting keeps line numbers.
func stripMatch(path string, text []byte) ([]byte, []string) {
	var warnings []string
	lines := bytes.Split(text, []byte("\n"))
	skipping := false
	for i, line := range lines {
		keyword, rest := splitKeyword(string(line))
		switch strings.ToLower(keyword) {
		case "host":
			skipping = false
		case "match":
			crit := strings.Fields(strings.ToLower(rest))
			switch {
			case len(crit) == 1 && crit[0] == "all":
				skipping = false
			case len(crit) == 2 && crit[0] == "host":
				skipping = false
				pats := strings.Fields(strings.ReplaceAll(strings.Fields(rest)[1], ",", " "))
				if len(pats) == 0 {
					pats = []string{"!*"} // "Match host ," matches nothing
				}
				lines[i] = []byte("Match host " + strings.Join(pats, " "))
				continue
			default:
				skipping = true
				warnings = append(warnings, fmt.Sprintf("%s:%d: skipped Match block: criteria %q not supported", path, i+1, strings.TrimSpace(rest)))
			}
		}
		if skipping {
			lines[i] = nil
		}
	}
	return bytes.Join(lines, []byte("\n")), warnings
}

// splitKeyword splits a config line as ssh_config's lexer does: the
// keyword ends at a space, tab or '=', and the rest, up to a '#', is its
// value.
func splitKeyword(line string) (keyword, rest string) {
	line = strings.TrimLeft(line, " \t\r")
	if line == "" || line[0] == '#' {
		return "", ""
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return line, ""
	}
	keyword, rest = line[:end], strings.TrimLeft(line[end:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	return keyword, rest
}

// selectHosts returns cfg with only the blocks that apply to alias, each
// made to match everything, so that ssh_config's lookups (which match
// "?" as zero or one character) see only them. Included files are still
// matched by ssh_config.
func selectHosts(cfg *ssh_config.Config, alias string) *ssh_config.Config {
	all, _ := ssh_config.NewPattern("*")
	var hosts []*ssh_config.Host
	for _, h := range cfg.Hosts {
		if hostMatches(h.Patterns, alias) {
			h.Patterns = []*ssh_config.Pattern{all}
			hosts = append(hosts, h)
		}
	}
	cfg.Hosts = hosts
	return cfg
}

// hostMatches reports whether a Host line's patterns select alias: one
// matches and no negated one does.
func hostMatches(pats []*ssh_config.Pattern, alias string) bool {
	found := false
	for _, p := range pats {
		s := p.String()
		neg := strings.HasPrefix(s, "!")
		if !globMatch(strings.TrimPrefix(s, "!"), alias) {
			continue
		}
		if neg {
			return false
		}
		found = true
	}
	return found
}

// globMatch matches s against pattern, where '*' stands for any run of
// characters and '?' for exactly one.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// resolver reads values for one host from a config whose blocks all
// apply to it.
type resolver struct {
	path  string
	alias string
	cfg   *ssh_config.Config
	vals  map[byte]string // token values, by letter
}

func (r *resolver) get(key string) string {
	v, _ := r.cfg.Get(r.alias, key)
	return v
}

func (r *resolver) getAll(key string) []string {
	v, _ := r.cfg.GetAll(r.alias, key)
	return v
}

// errorf returns a KindBadOption error about key's value v, naming the
// file and, when the value is in it rather than in an Include, the line.
// A cause that is itself an *Error lends its message rather than being
// nested.
func (r *resolver) errorf(cause error, key, v, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var e *Error
	if errors.As(cause, &e) {
		msg, cause = e.Msg, e.Err
	}
	where := r.path
	if line := r.lineOf(key, v); line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	return errorf(KindBadOption, cause, "ssh config %s: %s %q: %s", where, key, v, msg)
}

// lineOf returns the line that sets key to v, or 0 if an Include does.
func (r *resolver) lineOf(key, v string) int {
	for _, h := range r.cfg.Hosts {
		for _, n := range h.Nodes {
			if kv, ok := n.(*ssh_config.KV); ok && strings.EqualFold(kv.Key, key) && kv.Value == v {
				return kv.Pos().Line
			}
		}
	}
	return 0
}

func (r *resolver) resolve(hc *HostConfig, host, localUser string) error {
	var err error
	if v := r.get("HostName"); v != "" {
		if hc.HostName, err = expandTokens(v, hostNameTokens, map[byte]string{'h': host}, false); err != nil {
			return r.errorf(err, "HostName", v, "cannot expand")
		}
	}
	if v := r.get("Port"); v != "" {
		if hc.Port, err = parsePort(v, 1); err != nil {
			return r.errorf(err, "Port", v, "bad port")
		}
	}
	hc.User = r.get("User")

	// Token values, as OpenSSH's ssh(1) computes them.
	final, port, remoteUser := hc.HostName, "22", hc.User
	if final == "" {
		final = host
	}
	if hc.Port != 0 {
		port = strconv.Itoa(hc.Port)
	}
	if remoteUser == "" {
		remoteUser = localUser
	}
	r.vals = map[byte]string{'h': final, 'n': host, 'p': port, 'r': remoteUser, 'u': localUser,
		'i': strconv.Itoa(os.Getuid()), 'j': r.get("ProxyJump"), 'k': host}
	if v := r.get("HostKeyAlias"); v != "" {
		r.vals['k'] = v
	}
	if home, err := os.UserHomeDir(); err == nil {
		r.vals['d'] = home
	}
	if name, err := os.Hostname(); err == nil {
		r.vals['l'] = name
		r.vals['L'], _, _ = strings.Cut(name, ".")
	}
	sum := sha1.Sum([]byte(r.vals['l'] + final + port + remoteUser + r.vals['j']))
	r.vals['C'] = hex.EncodeToString(sum[:])

	for _, v := range r.getAll("IdentityFile") {
		f, err := r.expandPath(v)
		if err != nil {
			return r.errorf(err, "IdentityFile", v, "cannot expand")
		}
		hc.IdentityFiles = append(hc.IdentityFiles, f)
	}
	if v := r.get("IdentitiesOnly"); v != "" {
		b, ok := map[string]bool{"yes": true, "true": true, "no": false, "false": false}[strings.ToLower(v)]
		if !ok {
			return r.errorf(nil, "IdentitiesOnly", v, "want yes or no")
		}
		hc.IdentitiesOnly = &b
	}
	if v := r.get("UserKnownHostsFile"); v != "" {
		files, err := splitArgs(v)
		if err != nil {
			return r.errorf(err, "UserKnownHostsFile", v, "cannot split")
		}
		hc.UserKnownHostsFiles = []string{}
		if len(files) == 1 && strings.EqualFold(files[0], "none") {
			files = nil
		}
		for _, f := range files {
			if f, err = r.expandPath(f); err != nil {
				return r.errorf(err, "UserKnownHostsFile", v, "cannot expand")
			}
			hc.UserKnownHostsFiles = append(hc.UserKnownHostsFiles, f)
		}
	}
	if v := r.get("StrictHostKeyChecking"); v != "" {
		var ok bool
		hc.StrictHostKeyChecking, ok = map[string]string{"yes": "yes", "true": "yes", "no": "no", "false": "no",
			"off": "no", "ask": "ask", "accept-new": "accept-new"}[strings.ToLower(v)]
		if !ok {
			return r.errorf(nil, "StrictHostKeyChecking", v, "want yes, no, ask or accept-new")
		}
	}
	if err := r.resolveProxy(hc); err != nil {
		return err
	}
	for _, d := range []struct {
		key string
		out *time.Duration
	}{{"ConnectTimeout", &hc.ConnectTimeout}, {"ServerAliveInterval", &hc.ServerAliveInterval}} {
		if v := r.get(d.key); v != "" {
			if *d.out, err = parseTime(v); err != nil {
				return r.errorf(err, d.key, v, "not a time")
			}
		}
	}
	if v := r.get("ConnectionAttempts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return r.errorf(nil, "ConnectionAttempts", v, "not a count of at least 1")
		}
		hc.ConnectionAttempts = n
	}
	if v := r.get("ServerAliveCountMax"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return r.errorf(nil, "ServerAliveCountMax", v, "not a count")
		}
		hc.ServerAliveCountMax = n
	}
	for _, f := range []struct {
		key  string
		kind ForwardKind
		out  *[]ForwardSpec
	}{
		{"LocalForward", LocalForward, &hc.LocalForwards},
		{"RemoteForward", RemoteForward, &hc.RemoteForwards},
		{"DynamicForward", DynamicForward, &hc.DynamicForwards},
	} {
		for _, v := range r.getAll(f.key) {
			spec, err := r.parseForward(f.kind, v)
			if err != nil {
				return r.errorf(err, f.key, v, "bad forward")
			}
			*f.out = append(*f.out, spec)
		}
	}
	hc.Ciphers = r.get("Ciphers")
	hc.KexAlgorithms = r.get("KexAlgorithms")
	hc.MACs = r.get("MACs")
	hc.HostKeyAlgorithms = r.get("HostKeyAlgorithms")
	return nil
}

// resolveProxy sets ProxyJump or ProxyCommand. OpenSSH lets whichever of
// the two comes first win, even when its value is "none".
func (r *resolver) resolveProxy(hc *HostConfig) error {
	jump, cmd := r.get("ProxyJump"), r.get("ProxyCommand")
	if jump != "" && cmd != "" {
		if first := r.firstOf("ProxyJump", "ProxyCommand"); first == "ProxyJump" {
			cmd = ""
		} else {
			jump = ""
			if first == "" {
				hc.Warnings = append(hc.Warnings, fmt.Sprintf("%s: ProxyJump and ProxyCommand both set in one Include; using ProxyCommand", r.path))
			}
		}
	}
	if jump != "" {
		hops, err := ParseJumpHosts(jump)
		if err != nil {
			return r.errorf(err, "ProxyJump", jump, "cannot parse")
		}
		hc.ProxyJump = hops
	}
	if cmd != "" && !strings.EqualFold(cmd, "none") {
		var err error
		if hc.ProxyCommand, err = expandTokens(cmd, proxyTokens, r.vals, false); err != nil {
			return r.errorf(err, "ProxyCommand", cmd, "cannot expand")
		}
	}
	return nil
}

// firstOf returns which of keys a and b is set first, or "" when both
// first appear in the same Include.
func (r *resolver) firstOf(a, b string) string {
	for _, h := range r.cfg.Hosts {
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				for _, k := range []string{a, b} {
					if strings.EqualFold(n.Key, k) && n.Value != "" {
						return k
					}
				}
			case *ssh_config.Include:
				va, vb := n.Get(r.alias, a), n.Get(r.alias, b)
				switch {
				case va != "" && vb != "":
					return ""
				case va != "":
					return a
				case vb != "":
					return b
				}
			}
		}
	}
	return ""
}

// parseForward turns a LocalForward, RemoteForward or DynamicForward
// value, whose listening end and target are separate fields, into the
// command line's colon-joined form and parses that. % tokens are
// expanded in unix socket paths.
func (r *resolver) parseForward(kind ForwardKind, v string) (ForwardSpec, error) {
	fields, err := splitArgs(v)
	if err != nil {
		return ForwardSpec{}, err
	}
	switch n := len(fields); {
	case n == 0:
		return ForwardSpec{}, errors.New("missing port")
	case kind == LocalForward && n != 2:
		return ForwardSpec{}, errors.New("want [bind_address:]port host:hostport")
	case kind == RemoteForward && n > 2:
		return ForwardSpec{}, errors.New("want [bind_address:]port [host:hostport]")
	case kind == DynamicForward && n != 1:
		return ForwardSpec{}, errors.New("want [bind_address:]port")
	}
	for i, f := range fields {
		if isPath(f) {
			if fields[i], err = expandTokens(f, pathTokens, r.vals, false); err != nil {
				return ForwardSpec{}, err
			}
		}
	}
	return ParseForwardSpec(kind, strings.Join(fields, ":"))
}

// expandPath expands a leading ~ or ~user, then % tokens and ${VAR}, as
// OpenSSH does for IdentityFile and UserKnownHostsFile.
func (r *resolver) expandPath(p string) (string, error) {
	if strings.HasPrefix(p, "~") {
		name, rest, slash := strings.Cut(p[1:], "/")
		var home string
		if name == "" {
			var ok bool
			if home, ok = r.vals['d']; !ok {
				return "", errors.New("cannot expand ~: no home directory")
			}
		} else {
			u, err := user.Lookup(name)
			if err != nil {
				return "", fmt.Errorf("cannot expand ~%s: %w", name, err)
			}
			home = u.HomeDir
		}
		p = home
		if slash {
			p = strings.TrimSuffix(home, "/") + "/" + rest
		}
	}
	return expandTokens(p, pathTokens, r.vals, true)
}

// expandTokens replaces %x for each letter x in allowed with vals[x], %%
// with %, and, if env is set, ${NAME} with the environment variable.
// Unknown tokens and unset variables are errors, as in OpenSSH.
func expandTokens(s, allowed string, vals map[byte]string, env bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '%':
			if i++; i == len(s) {
				return "", errors.New("it ends with a lone %")
			}
			if s[i] == '%' {
				b.WriteByte('%')
				continue
			}
			if strings.IndexByte(allowed, s[i]) < 0 {
				return "", fmt.Errorf("unknown token %%%c", s[i])
			}
			v, ok := vals[s[i]]
			if !ok {
				return "", fmt.Errorf("token %%%c has no value here", s[i])
			}
			b.WriteString(v)
		case env && strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${")
			}
			name := s[i+2 : i+end]
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable ${%s} is not set", name)
			}
			b.WriteString(v)
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// splitArgs splits a value into whitespace-separated fields, a
// double-quoted field keeping its spaces.
func splitArgs(s string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted, in = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				fields = append(fields, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if in {
		fields = append(fields, cur.String())
	}
	return fields, nil
}

// parseTime reads an OpenSSH time value: seconds, or numbers with units
// s, m, h, d or w, as in "90" or "1m30s".
func parseTime(s string) (time.Duration, error) {
	units := map[byte]int64{'s': 1, 'S': 1, 'm': 60, 'M': 60, 'h': 3600, 'H': 3600,
		'd': 86400, 'D': 86400, 'w': 604800, 'W': 604800}
	var total int64
	for rest := s; rest != ""; {
		digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
		if digits == 0 || digits > 10 {
			return 0, errors.New("want seconds, or numbers with units s, m, h, d or w")
		}
		n, _ := strconv.ParseInt(rest[:digits], 10, 64)
		rest = rest[digits:]
		mult := int64(1)
		if rest != "" {
			var ok bool
			if mult, ok = units[rest[0]]; !ok {
				return 0, fmt.Errorf("unknown unit %q", rest[0])
			}
			rest = rest[1:]
		}
		if total += n * mult; total > math.MaxInt32 {
			return 0, errors.New("too long")
		}
	}
	if s == "" {
		return 0, errors.New("it is empty")
	}
	return time.Duration(total) * time.Second, nil
}

// ParseJumpHosts parses a ProxyJump value such as "bastion,me@b2:2222":
// comma-separated hops, each [user@]host[:port] or
// ssh://[user@]host[:port], an IPv6 host in brackets ("[::1]:2222").
// "none" gives nil. Errors are of kind KindBadOption and quote the value.
func ParseJumpHosts(s string) ([]JumpHost, error) {
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	if s == "" {
		return nil, errorf(KindBadOption, nil, "bad ProxyJump %q: it is empty", s)
	}
	var hops []JumpHost
	for _, hop := range strings.Split(s, ",") {
		h, err := parseJumpHost(hop)
		if err != nil {
			return nil, errorf(KindBadOption, err, "bad ProxyJump %q: hop %q", s, hop)
		}
		hops = append(hops, h)
	}
	return hops, nil
}

func parseJumpHost(hop string) (JumpHost, error) {
	var h JumpHost
	if hop == "" {
		return h, errors.New("it is empty")
	}
	if strings.IndexFunc(hop, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return h, errors.New("it contains a space or control character")
	}
	rest, uri := strings.CutPrefix(hop, "ssh://")
	if uri {
		rest = strings.TrimSuffix(rest, "/")
	}
	if strings.Contains(rest, "/") {
		return h, errors.New("it contains a '/'")
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		h.User, rest = rest[:i], rest[i+1:]
		if h.User == "" {
			return h, errors.New("the user is empty")
		}
	}
	portStr := ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return h, errors.New("an opening bracket is never closed")
		}
		h.Host, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			var ok bool
			if portStr, ok = strings.CutPrefix(rest, ":"); !ok {
				return h, errors.New("a closing bracket must end the host")
			}
		}
	} else {
		var hasPort bool
		h.Host, portStr, hasPort = strings.Cut(rest, ":")
		if hasPort && strings.Contains(portStr, ":") {
			return h, errors.New("too many colons (IPv6 addresses go in brackets)")
		}
		if hasPort && portStr == "" {
			return h, errors.New("the port is empty")
		}
	}
	if h.Host == "" {
		return h, errors.New("the host is empty")
	}
	if strings.ContainsAny(h.Host, "[]@") {
		return h, errors.New("the host contains a bracket or '@'")
	}
	if portStr != "" {
		p, err := parsePort(portStr, 1)
		if err != nil {
			return h, err
		}
		h.Port = p
	}
	return h, nil
}
