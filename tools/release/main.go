// Command release builds the pod for every platform of the pod-registry
// manifest (resources/pod-manifest.edn): a static binary per platform
// (CGO off), zipped under the file name the manifest's URL gives, then
// SHA256SUMS and the manifest with each zip's :artifact/sha256, all in one
// directory, checked against each other before it exits.
//
//	go run ./tools/release [-manifest resources/pod-manifest.edn] [-out build/release] [-only linux-amd64,...]
//	go run ./tools/release -verify build/release
//
// ./build.sh release runs it. Builds use -trimpath and fixed zip times, so
// the same source and Go version give the same sums.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// zipTime is the modification time of every zipped file, so that zips of
// the same binary are identical.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	manifestFile := flag.String("manifest", "resources/pod-manifest.edn", "the pod-registry manifest")
	versionFile := flag.String("version", "resources/BBSSH_VERSION", "the file holding the version")
	out := flag.String("out", "build/release", "where to write the zips, SHA256SUMS and manifest.edn")
	only := flag.String("only", "", "comma-separated os-arch labels to build (e.g. linux-amd64); default all")
	verify := flag.String("verify", "", "only check a release directory against its manifest")
	flag.Parse()
	if err := run(*manifestFile, *versionFile, *out, *only, *verify); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(manifestFile, versionFile, out, only, verify string) error {
	if verify != "" {
		return verifyDir(verify, "")
	}
	raw, err := os.ReadFile(versionFile)
	if err != nil {
		return err
	}
	version := strings.TrimSpace(string(raw))
	m, err := ReadManifest(manifestFile)
	if err != nil {
		return err
	}
	if errs := m.Check(version); len(errs) > 0 {
		return fmt.Errorf("%s: %w", manifestFile, errors.Join(errs...))
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, l := range strings.Split(only, ",") {
		if l = strings.TrimSpace(l); l != "" {
			want[l] = true
		}
	}
	sums := map[string]string{}
	for _, a := range m.Artifacts {
		t, _ := a.target()
		if len(want) > 0 && !want[t.Label] {
			continue
		}
		start := time.Now()
		sum, err := buildZip(t, filepath.Join(out, a.ZipName()))
		if err != nil {
			return fmt.Errorf("%s: %w", t.Label, err)
		}
		sums[a.ZipName()] = sum
		fmt.Fprintf(os.Stderr, "release: %s (%s/%s) in %.1f s\n", a.ZipName(), t.GOOS, t.GOARCH, time.Since(start).Seconds())
	}
	if len(sums) == 0 {
		return fmt.Errorf("-only %q matches no artifact", only)
	}
	if err := writeSums(filepath.Join(out, "SHA256SUMS"), sums); err != nil {
		return err
	}
	text, err := os.ReadFile(manifestFile)
	if err != nil {
		return err
	}
	withSum, err := withSums(string(text), sums)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.edn"), []byte(withSum), 0o644); err != nil {
		return err
	}
	partial := ""
	if len(want) > 0 {
		partial = only
	}
	return verifyDir(out, partial)
}

// buildZip builds the pod for t and writes it, alone, into zipPath;
// it returns the zip's SHA-256.
func buildZip(t Target, zipPath string) (string, error) {
	tmp, err := os.MkdirTemp("", "bbssh-release-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, t.executable())
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: t.executable(), Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

func writeSums(file string, sums map[string]string) error {
	var names []string
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n) // the format sha256sum -c reads
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

func readSums(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || !sha256Re.MatchString(sum) {
			return nil, fmt.Errorf("%s: bad line %q", file, sc.Text())
		}
		sums[name] = sum
	}
	return sums, sc.Err()
}

// verifyDir checks a release directory: its manifest.edn is valid for the
// version it names, every artifact's zip is there (all of them unless
// only names a subset), holds exactly its executable (statically linked
// on Linux), and matches both SHA256SUMS and the manifest's
// :artifact/sha256; no other zip is there.
func verifyDir(dir, only string) error {
	m, err := ReadManifest(filepath.Join(dir, "manifest.edn"))
	if err != nil {
		return err
	}
	errs := m.Check(m.Version)
	sums, err := readSums(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return err
	}
	zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
	named := map[string]bool{}
	for _, a := range m.Artifacts {
		named[a.ZipName()] = true
		t, _ := a.target()
		file := filepath.Join(dir, a.ZipName())
		if _, err := os.Stat(file); err != nil {
			if only == "" || strings.Contains(","+only+",", ","+t.Label+",") {
				errs = append(errs, fmt.Errorf("%s is missing", a.ZipName()))
			}
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		s := sha256.Sum256(data)
		sum := hex.EncodeToString(s[:])
		if sums[a.ZipName()] != sum {
			errs = append(errs, fmt.Errorf("%s: SHA256SUMS says %q, the file's is %s", a.ZipName(), sums[a.ZipName()], sum))
		}
		if a.SHA256 != sum {
			errs = append(errs, fmt.Errorf("%s: manifest.edn says :artifact/sha256 %q, the file's is %s", a.ZipName(), a.SHA256, sum))
		}
		if err := checkZip(data, t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.ZipName(), err))
		}
	}
	for _, z := range zips {
		if !named[filepath.Base(z)] {
			errs = append(errs, fmt.Errorf("%s is not in the manifest", filepath.Base(z)))
		}
	}
	for name := range sums {
		if !named[name] {
			errs = append(errs, fmt.Errorf("SHA256SUMS lists %s, which the manifest does not name", name))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(os.Stderr, "release: %s checked: %d zips match manifest.edn and SHA256SUMS\n", dir, len(sums))
	return nil
}

// checkZip checks that the zip holds only the executable, executable,
// and on Linux a static ELF binary for the right machine.
func checkZip(data []byte, t Target) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	if len(zr.File) != 1 || zr.File[0].Name != t.executable() {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		return fmt.Errorf("holds %v, want just %s", names, t.executable())
	}
	f := zr.File[0]
	if t.GOOS != "windows" && f.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable (mode %v)", f.Name, f.Mode())
	}
	if t.GOOS != "linux" {
		return nil
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	bin, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return err
	}
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("%s is not an ELF binary: %w", f.Name, err)
	}
	defer ef.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[t.GOARCH]
	if ef.Machine != machine {
		return fmt.Errorf("%s is for %v, want %v", f.Name, ef.Machine, machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an interpreter)", f.Name)
		}
	}
	return nil
}
