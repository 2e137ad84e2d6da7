// Package bb finds the babashka that runs the project's Clojure scripts
// (end-to-end tests, doc pages, examples, benchmarks' drivers): bb on the
// PATH, the native binary, when there is one; else the babashka built from
// source that runs on a JVM, shared/tools/bb/bb beside the repository.
// Both load pods with babashka's own client (babashka/pods), exactly as
// users' scripts do; the project has no client of its own.
package bb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Missing is the one-line reason given when no babashka can be found.
const Missing = "no babashka to run the tests: put bb on the PATH (https://babashka.org), " +
	"or provide ../shared/tools/bb/bb beside the repository with a Java 17+ runtime (apt-get install default-jre-headless)"

// Find returns the path of the bb that runs scripts for the repository at
// repo: bb on the PATH, else repo/../shared/tools/bb/bb when a java
// runtime is there for it.
func Find(repo string) (string, error) {
	if p, err := exec.LookPath("bb"); err == nil {
		return p, nil
	}
	jvm, err := filepath.Abs(filepath.Join(repo, "..", "shared", "tools", "bb", "bb"))
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(jvm); err != nil || st.Mode()&0o111 == 0 {
		return "", errors.New(Missing)
	}
	if os.Getenv("JAVA_HOME") == "" {
		if _, err := exec.LookPath("java"); err != nil {
			return "", fmt.Errorf("%s: %s is there but java is not", Missing, jvm)
		}
	}
	return jvm, nil
}

// Env returns the environment entries every bb run gets on top of the
// caller's: a shared XDG_CACHE_HOME, so that the JVM bb writes its
// start-up archive once, not once per fresh HOME.
func Env() []string {
	if os.Getenv("XDG_CACHE_HOME") != "" {
		return nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = filepath.Join(os.TempDir(), "bbssh-bb-cache")
	}
	return []string{"XDG_CACHE_HOME=" + dir}
}

var warmOnce sync.Once

// Warm runs bb once on a trivial expression, so that the JVM bb's
// start-up archive exists before scripts run in parallel (its first run
// also writes and checks it, which takes several seconds). It returns an
// error when bb cannot run at all.
func Warm(path string) error {
	var err error
	warmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-e", "(+ 1 2)")
		cmd.Env = append(os.Environ(), Env()...)
		out, runErr := cmd.CombinedOutput()
		if runErr != nil || string(out) != "3\n" {
			err = fmt.Errorf("%s -e (+ 1 2) failed: %v: %s", path, runErr, out)
		}
	})
	return err
}
