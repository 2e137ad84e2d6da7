package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoFile is a file of the repository, from this package's directory.
func repoFile(name string) string { return filepath.Join("..", "..", name) }

// TestProjectManifest checks the committed manifest against the version:
// every platform, file names bbssh-<version>-<os>-<arch>.zip, executables,
// the socket transport.
func TestProjectManifest(t *testing.T) {
	raw, err := os.ReadFile(repoFile("resources/BBSSH_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(raw))
	m, err := ReadManifest(repoFile("resources/pod-manifest.edn"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := m.Check(version); len(errs) > 0 {
		t.Fatalf("resources/pod-manifest.edn: %v", errs)
	}
	var names []string
	for _, a := range m.Artifacts {
		names = append(names, a.ZipName())
	}
	want := []string{"linux-amd64", "linux-aarch64", "macos-amd64", "macos-aarch64", "windows-amd64"}
	for i, label := range want {
		if names[i] != "bbssh-"+version+"-"+label+".zip" {
			t.Errorf("artifact %d is %s, want the %s zip", i, names[i], label)
		}
	}
}

func TestCheckFindsMistakes(t *testing.T) {
	m, err := ReadManifest(repoFile("resources/pod-manifest.edn"))
	if err != nil {
		t.Fatal(err)
	}
	m.Artifacts[0].URL = strings.Replace(m.Artifacts[0].URL, "linux-amd64", "linux-x64", 1)
	m.Artifacts[4].Executable = "bbssh"
	m.Artifacts[1].OSArch = "arm64"
	errs := m.Check("9.9.9")
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		`:pod/version is "` + m.Version + `" but resources/BBSSH_VERSION says "9.9.9"`,
		`unknown :os/arch "arm64"`,
		`:artifact/executable "bbssh", want "bbssh.exe"`,
		`no artifact for Linux.* aarch64`,
		`the URL does not name the release v9.9.9`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Check did not say %q; it said:\n%s", want, text)
		}
	}
}

// TestReleaseOnePlatform runs the whole release for linux-amd64 only (the
// others take longer to cross-compile; ./build.sh release builds them
// all) and then breaks the result in the ways verify must notice.
func TestReleaseOnePlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pod")
	}
	out := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(repoFile(".")); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	if err := run("resources/pod-manifest.edn", "resources/BBSSH_VERSION", out, "linux-amd64", ""); err != nil {
		t.Fatal(err)
	}
	sums, err := readSums(filepath.Join(out, "SHA256SUMS"))
	if err != nil || len(sums) != 1 {
		t.Fatalf("SHA256SUMS: %v %v", sums, err)
	}
	manifest, _ := os.ReadFile(filepath.Join(out, "manifest.edn"))
	for name, sum := range sums {
		if !strings.Contains(string(manifest), `/`+name+"\"\n   :artifact/sha256 \""+sum+`"`) {
			t.Errorf("manifest.edn lacks the sum of %s:\n%s", name, manifest)
		}
	}
	if err := verifyDir(out, "linux-amd64"); err != nil {
		t.Fatalf("verify of a good release: %v", err)
	}
	// A zip that does not match its sums, and one the manifest does not name.
	var zip string
	for name := range sums {
		zip = filepath.Join(out, name)
	}
	data, _ := os.ReadFile(zip)
	data[len(data)/2] ^= 0xff
	os.WriteFile(zip, data, 0o644)
	os.WriteFile(filepath.Join(out, "bbssh-extra.zip"), []byte("x"), 0o644)
	err = verifyDir(out, "linux-amd64")
	if err == nil {
		t.Fatal("verify passed a corrupt release")
	}
	for _, want := range []string{"SHA256SUMS says", "manifest.edn says :artifact/sha256", "bbssh-extra.zip is not in the manifest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("verify did not say %q:\n%v", want, err)
		}
	}
}
