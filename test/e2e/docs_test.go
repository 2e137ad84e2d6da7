package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"bbssh/tools/mdoc"
)

// The documentation's examples are run as written, against the test sshd.
//
// How a page runs: its ```clojure blocks (all but those marked
// "```clojure no-run") are joined in order into one script, run by bb as
// bb would run it, in a fresh working directory holding the pod as
// ./bbssh (and build/bbssh) and, unless the page loads the pod itself in
// its first block, a bb.edn that lists it ({:pods {epiccastle/bbssh
// {:path "./bbssh"}}}).
//
// The host names in the examples (myhost, bastion, web1, ...) are real
// names to the pod: HOME is a fresh directory whose ~/.ssh/config points
// them at the test sshd, with the test key as ~/.ssh/id_ed25519 and the
// sshd's keys in ~/.ssh/known_hosts, exactly as a user's machine would
// be set up. Nothing else is injected into the examples: no variables.
//
// A one-line top-level form followed by a result comment, as in
//
//	(:exit @(bbssh/exec s "exit 3")) ;; => 3
//
// is checked: the value must equal the comment read as EDN (a comment
// with "..." in it is not checked). The helper doing it, doc-check/check!,
// is the only thing the harness adds.

// docHosts are the host names the examples use; each is an alias of the
// test sshd in the examples' ~/.ssh/config.
var docHosts = []string{"myhost", "bastion", "db-host", "web1", "web2", "web3"}

// exampleHome makes a home directory whose ~/.ssh is set up for the test
// sshd under the names in docHosts (and 127.0.0.1, localhost).
func exampleHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(server.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile(server.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	// The same keys for localhost and ::1, which examples use as other
	// machines.
	hostPort := fmt.Sprintf("[%s]:%d", server.Host, server.Port)
	var kh strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(known)), "\n") {
		for _, name := range []string{hostPort, fmt.Sprintf("[localhost]:%d", server.Port), fmt.Sprintf("[::1]:%d", server.Port)} {
			kh.WriteString(strings.Replace(line, hostPort, name, 1) + "\n")
		}
	}
	// closed-port is a host where nothing listens, for failures.
	config := fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n\nHost 127.0.0.1 localhost ::1\n  Port %d\n  User %s\n\nHost closed-port\n  HostName 127.0.0.1\n  Port 1\n",
		strings.Join(docHosts, " "), server.Host, server.Port, server.User, server.Port, server.User)
	for name, content := range map[string]string{"id_ed25519": string(key), "known_hosts": kh.String(), "config": config} {
		if err := os.WriteFile(filepath.Join(sshDir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// exampleWorkDir makes a working directory holding the pod as ./bbssh and
// build/bbssh, with a bb.edn listing it when withBBEdn.
func exampleWorkDir(t *testing.T, withBBEdn bool) string {
	t.Helper()
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bbssh", "build/bbssh"} {
		if err := os.Symlink(podPath, filepath.Join(work, p)); err != nil {
			t.Fatal(err)
		}
	}
	if withBBEdn {
		if err := os.WriteFile(filepath.Join(work, "bb.edn"), []byte("{:pods {bbssh/bbssh {:path \"./bbssh\"}}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return work
}

// exampleEnv is the environment of an example: the user's, with HOME
// replaced, no ssh-agent, and none of the test bed's variables.
func exampleEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "BBSSH_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home), extra...)
}

// runExample runs bb with args in work, with no terminal, and returns its
// combined output; a non-zero exit fails the test.
func runExample(t *testing.T, work string, env []string, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bbPath, args...)
	cmd.Dir = work
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bb %s failed: %v\n%s\n--- sshd log tail ---\n%s", strings.Join(args, " "), err, out, tail(server.Logs(), 20))
	}
	if left, _ := filepath.Glob(filepath.Join(work, ".babashka-pod-*.port*")); len(left) > 0 {
		t.Errorf("port files left behind: %v", left)
	}
	return string(out)
}

// docPages lists the pages whose examples run: the README and docs/*.md.
func docPages(t *testing.T) []string {
	pages, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in docs/: %v", err)
	}
	return append([]string{filepath.Join(repo, "README.md")}, pages...)
}

var (
	blockMarker = regexp.MustCompile(`(?m)^DOC-BLOCK (\d+)$`)
	checkMarker = regexp.MustCompile(`(?m)^DOC-CHECK ok$`)
	resultLine  = regexp.MustCompile(`^(.*?)\s*;;\s*=>\s*(.+)$`)
)

// checkHelper defines doc-check/check!, which evaluates a form, compares
// its value with the page's result comment and says so on stderr.
const checkHelper = `(create-ns 'doc-check)
(intern 'doc-check 'check!
  (fn [where f expected]
    (let [v (f)
          want (clojure.edn/read-string expected)]
      (when-not (= v want)
        (throw (ex-info (str where ": the value is " (pr-str v) ", the page says " expected) {})))
      (binding [*out* *err*] (println "DOC-CHECK ok"))
      v)))
`

// balanced reports whether code closes every bracket it opens, outside
// strings, character literals and comments: whether it is whole forms.
func balanced(code string) bool {
	depth, inString := 0, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '\\':
			i++ // a character literal such as \( or \"
		case c == ';':
			for i < len(code) && code[i] != '\n' {
				i++
			}
		case c == '"':
			inString = true
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0 && !inString
}

// withChecks rewrites each top-level form whose last line ends in a
// result comment (";; => value") into a call of doc-check/check!. It
// returns the code, how many forms it rewrote, and the result comments it
// could not check (not at the end of a top-level form); a comment with
// "..." in it is an illustration and is left alone.
func withChecks(where, code string) (string, int, []string) {
	lines := strings.Split(code, "\n")
	var out, unchecked []string
	n, start := 0, -1
	for i, line := range lines {
		if start < 0 && strings.HasPrefix(line, "(") {
			start = i
		}
		m := resultLine.FindStringSubmatch(line)
		claim := m != nil && !strings.Contains(m[2], "...")
		if start < 0 {
			if claim {
				unchecked = append(unchecked, line)
			}
			out = append(out, line)
			continue
		}
		form := strings.Join(lines[start:i+1], "\n")
		if claim {
			form = strings.Join(append(append([]string{}, lines[start:i]...), m[1]), "\n")
		}
		if !balanced(form) {
			if claim {
				unchecked = append(unchecked, line)
			}
			continue
		}
		if claim && !strings.HasPrefix(form, "(def") {
			out = append(out, fmt.Sprintf("(doc-check/check! %q (fn [] %s) %q)", where+": "+strings.Join(strings.Fields(form), " "), form, strings.TrimSpace(m[2])))
			n++
		} else {
			if claim {
				unchecked = append(unchecked, line)
			}
			out = append(out, lines[start:i+1]...)
		}
		start = -1
	}
	if start >= 0 {
		out = append(out, lines[start:]...)
	}
	return strings.Join(out, "\n"), n, unchecked
}

// TestDocs runs every page's Clojure examples, in order, as one script.
func TestDocs(t *testing.T) {
	home := exampleHome(t)
	total, skipped, totalChecks := 0, 0, 0
	for _, page := range docPages(t) {
		rel, _ := filepath.Rel(repo, page)
		md, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		var run []mdoc.Block
		for _, b := range mdoc.Blocks(md) {
			if b.Runnable() {
				run = append(run, b)
			} else if b.Lang == "clojure" {
				skipped++
			}
		}
		if len(run) == 0 {
			continue
		}
		total += len(run)
		t.Run(strings.TrimSuffix(rel, ".md"), func(t *testing.T) {
			loadsPod := strings.Contains(run[0].Code, "load-pod")
			work := exampleWorkDir(t, !loadsPod)
			var script strings.Builder
			script.WriteString(checkHelper)
			checks := 0
			for _, b := range run {
				code, n, unchecked := withChecks(fmt.Sprintf("%s block %d", rel, b.Index), b.Code)
				for _, u := range unchecked {
					t.Errorf("%s block %d: the result in %q cannot be checked: put it after a whole top-level form, or write \"...\" in it", rel, b.Index, u)
				}
				checks += n
				// The marker says which block was running when a failure
				// is reported; it goes to stderr, as diagnostics do.
				fmt.Fprintf(&script, "(binding [*out* *err*] (println \"DOC-BLOCK %d\"))\n%s\n", b.Index, code)
			}
			totalChecks += checks
			script.WriteString("(println \"DOC-PAGE-DONE\")\n")
			file := filepath.Join(work, "page.clj")
			if err := os.WriteFile(file, []byte(script.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out := runExample(t, work, exampleEnv(home), 3*time.Minute, file)
			ran := len(blockMarker.FindAllString(out, -1))
			if ran != len(run) || !strings.Contains(out, "DOC-PAGE-DONE") {
				t.Fatalf("%s: %d of %d blocks ran:\n%s", rel, ran, len(run), out)
			}
			if got := len(checkMarker.FindAllString(out, -1)); got != checks {
				t.Fatalf("%s: %d of %d results checked:\n%s", rel, got, checks, out)
			}
			t.Logf("%s: %d blocks ran, %d results checked, in %.1f s", rel, ran, checks, time.Since(start).Seconds())
		})
	}
	t.Logf("%d Clojure blocks run, %d results checked, %d blocks marked no-run", total, totalChecks, skipped)
	if skipped > 8 {
		t.Errorf("%d blocks are marked no-run; keep them few", skipped)
	}
}

func TestWithChecks(t *testing.T) {
	code := strings.Join([]string{
		`(def s 1)`,
		`(:exit @(x "a;b")) ;; => 3`,
		`(str "(") ;; => "("`,
		`(foo) ;; => [1 ...]`,
		`(def p 8) ;; => 8`,
		`(-> (f 1) ; step`,
		`    (g 2)) ;; => 4`,
		`(h (a)`,
		`   (b) ;; => 2`,
		`   (c))`,
		`;; => 9`,
	}, "\n")
	got, n, unchecked := withChecks("p block 1", code)
	if n != 3 {
		t.Fatalf("rewrote %d forms, want 3:\n%s", n, got)
	}
	for _, want := range []string{
		`(doc-check/check! "p block 1: (:exit @(x \"a;b\"))" (fn [] (:exit @(x "a;b"))) "3")`,
		`(doc-check/check! "p block 1: (str \"(\")" (fn [] (str "(")) "\"(\"")`,
		"(doc-check/check! \"p block 1: (-> (f 1) ; step (g 2))\" (fn [] (-> (f 1) ; step\n    (g 2))) \"4\")",
		"(foo) ;; => [1 ...]", "(def p 8) ;; => 8", "(h (a)\n   (b) ;; => 2\n   (c))",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
	wantUnchecked := []string{"(def p 8) ;; => 8", "   (b) ;; => 2", ";; => 9"}
	if strings.Join(unchecked, "|") != strings.Join(wantUnchecked, "|") {
		t.Errorf("unchecked %q, want %q", unchecked, wantUnchecked)
	}
}

// TestBBEdn runs the README's bb.edn usage as written: its ```edn bb.edn
// block becomes bb.edn in the working directory, and its ```clojure bb.edn
// block the script, which requires the pod's namespaces without loading
// the pod itself.
func TestBBEdn(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var bbEdn, script string
	for _, b := range mdoc.Blocks(md) {
		if len(b.Attrs) == 1 && b.Attrs[0] == "bb.edn" {
			switch b.Lang {
			case "edn":
				bbEdn = b.Code
			case "clojure":
				script = b.Code
			}
		}
	}
	if !strings.Contains(bbEdn, ":pods") || !strings.Contains(bbEdn, `:path "./bbssh"`) || script == "" {
		t.Fatalf("README.md needs an ```edn bb.edn block with :pods {... {:path \"./bbssh\"}} and a ```clojure bb.edn block; got %q and %q", bbEdn, script)
	}
	if strings.Contains(script, "load-pod") {
		t.Fatalf("the bb.edn example must not load the pod itself:\n%s", script)
	}
	work := exampleWorkDir(t, false)
	if err := os.WriteFile(filepath.Join(work, "bb.edn"), []byte(bbEdn), 0o644); err != nil {
		t.Fatal(err)
	}
	code, checks, _ := withChecks("README.md bb.edn", script)
	file := filepath.Join(work, "script.clj")
	if err := os.WriteFile(file, []byte(checkHelper+code+"\n(println (:doc (meta #'bbssh/ssh)))\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runExample(t, work, exampleEnv(exampleHome(t)), 2*time.Minute, file)
	if got := len(checkMarker.FindAllString(out, -1)); got != checks || checks == 0 {
		t.Fatalf("%d of %d results checked:\n%s", got, checks, out)
	}
	if !strings.Contains(out, "Opens an SSH session") {
		t.Errorf("(doc) metadata missing with bb.edn loading:\n%s", out)
	}
}

// TestDocsSite builds the HTML site as ./build.sh docs does, from the
// pod under test, and looks at what it made: every page, and an API
// reference with each public function's arglists and docstring.
func TestDocsSite(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./tools/docsite", "-pod", podPath, "-out", out, "-bb", bbPath)
	cmd.Dir = repo
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docsite: %v\n%s", err, msg)
	} else {
		t.Logf("%s", strings.TrimSpace(string(msg)))
	}
	pages, _ := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	for _, p := range pages {
		name := strings.TrimSuffix(filepath.Base(p), ".md") + ".html"
		if name == "README.html" {
			name = "index.html"
		}
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s was not rendered: %v", p, err)
		}
	}
	api, err := os.ReadFile(filepath.Join(out, "api.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<h3 id="pod.epiccastle.bbssh.core-ssh"><code>ssh</code></h3>`,
		`<code>(ssh hostname &amp; [options])</code>`,
		"Opens an SSH session to `hostname`",
		`id="pod.epiccastle.bbssh.session-set-port-forwarding-local"`,
		`id="pod.epiccastle.bbssh.sftp-exists-p"`,
		`id="pod.epiccastle.bbssh.pod.exec-start"`,
	} {
		if !strings.Contains(string(api), want) {
			t.Errorf("api.html lacks %s", want)
		}
	}
}
