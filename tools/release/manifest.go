package main

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"olympos.io/encoding/edn"
)

// Manifest is a pod-registry manifest (manifests/<org>/<name>/<version>/
// manifest.edn in the babashka pod registry).
type Manifest struct {
	Name      edn.Symbol          `edn:"pod/name"`
	Version   string              `edn:"pod/version"`
	Options   map[edn.Keyword]any `edn:"pod/options"`
	Artifacts []Artifact          `edn:"pod/artifacts"`
}

// Artifact is one platform's download.
type Artifact struct {
	OSName     string `edn:"os/name"`
	OSArch     string `edn:"os/arch"`
	URL        string `edn:"artifact/url"`
	Executable string `edn:"artifact/executable"`
	SHA256     string `edn:"artifact/sha256"`
}

// ReadManifest parses a manifest file.
func ReadManifest(file string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(file)
	if err != nil {
		return m, err
	}
	if err := edn.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// Target is what Go builds for an artifact.
type Target struct {
	GOOS, GOARCH string
	// Label is the os-arch part of the zip's name, e.g. "macos-aarch64".
	Label string
}

// target maps an artifact's Java os.name pattern and os.arch (what
// babashka matches) to Go's GOOS and GOARCH.
func (a Artifact) target() (Target, error) {
	var t Target
	osLabel := ""
	switch a.OSName {
	case "Linux.*":
		t.GOOS, osLabel = "linux", "linux"
	case "Mac.*":
		t.GOOS, osLabel = "darwin", "macos"
	case "Windows.*":
		t.GOOS, osLabel = "windows", "windows"
	default:
		return t, fmt.Errorf("artifact %s: unknown :os/name %q (want Linux.*, Mac.* or Windows.*)", a.URL, a.OSName)
	}
	archLabel := ""
	switch a.OSArch {
	case "amd64", "x86_64":
		t.GOARCH, archLabel = "amd64", "amd64"
	case "aarch64":
		t.GOARCH, archLabel = "arm64", "aarch64"
	default:
		return t, fmt.Errorf("artifact %s: unknown :os/arch %q (want amd64, x86_64 or aarch64)", a.URL, a.OSArch)
	}
	t.Label = osLabel + "-" + archLabel
	return t, nil
}

// ZipName is the file name the artifact's URL gives.
func (a Artifact) ZipName() string { return path.Base(a.URL) }

// required are the platforms every release must have, as babashka names
// them (Java's os.arch: x86_64 on macOS).
var required = []struct{ osName, arch string }{
	{"Linux.*", "amd64"}, {"Linux.*", "aarch64"}, {"Mac.*", "x86_64"}, {"Mac.*", "aarch64"}, {"Windows.*", "amd64"},
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check returns every way the manifest is wrong for version: a missing
// platform, a file name that is not bbssh-<version>-<os>-<arch>.zip, an
// executable name, the socket transport option.
func (m Manifest) Check(version string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.Version != version {
		bad(":pod/version is %q but resources/BBSSH_VERSION says %q", m.Version, version)
	}
	if m.Name == "" {
		bad(":pod/name is missing")
	}
	if m.Options[edn.Keyword("transport")] != edn.Keyword("socket") {
		bad(":pod/options must be {:transport :socket}, got %v", m.Options)
	}
	seen := map[string]bool{}
	for _, a := range m.Artifacts {
		seen[a.OSName+" "+a.OSArch] = true
		t, err := a.target()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if want := fmt.Sprintf("bbssh-%s-%s.zip", version, t.Label); a.ZipName() != want {
			bad("artifact %s %s: file %q, want %q", a.OSName, a.OSArch, a.ZipName(), want)
		}
		if !strings.Contains(a.URL, "/v"+version+"/") {
			bad("artifact %s: the URL does not name the release v%s", a.URL, version)
		}
		if want := t.executable(); a.Executable != want {
			bad("artifact %s: :artifact/executable %q, want %q", a.URL, a.Executable, want)
		}
		if a.SHA256 != "" && !sha256Re.MatchString(a.SHA256) {
			bad("artifact %s: :artifact/sha256 %q is not a hex SHA-256", a.URL, a.SHA256)
		}
	}
	for _, r := range required {
		if !seen[r.osName+" "+r.arch] {
			bad("no artifact for %s %s", r.osName, r.arch)
		}
	}
	if len(m.Artifacts) != len(seen) {
		bad("two artifacts for the same platform")
	}
	return errs
}

func (t Target) executable() string {
	if t.GOOS == "windows" {
		return "bbssh.exe"
	}
	return "bbssh"
}

// withSums returns the manifest text with an :artifact/sha256 entry after
// each artifact's :artifact/url, keeping its layout and comments.
func withSums(text string, sums map[string]string) (string, error) {
	for name, sum := range sums {
		re := regexp.MustCompile(`(:artifact/url\s+"[^"]*/` + regexp.QuoteMeta(name) + `")`)
		if len(re.FindAllStringIndex(text, -1)) != 1 {
			return "", fmt.Errorf("the manifest names %s not exactly once", name)
		}
		text = re.ReplaceAllString(text, "$1\n   :artifact/sha256 \""+sum+"\"")
	}
	return text, nil
}
