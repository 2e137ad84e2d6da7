package bbssh

import (
	"bbssh/test/envskip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// scpPair runs ScpSend and ScpReceive against each other through two
// pipes, as the local and remote ends of an exec channel would be: OS
// pipes, which like a channel hold what was written before it is read
// (the sink answers records before they arrive).
func scpPair(ctx context.Context, sources []ScpSource, so, ro ScpOptions, local string) (sendErr, recvErr error) {
	toSinkR, toSinkW, err := os.Pipe()
	if err != nil {
		return err, err
	}
	toSrcR, toSrcW, err := os.Pipe()
	if err != nil {
		toSinkR.Close()
		toSinkW.Close()
		return err, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sendErr = ScpSend(ctx, toSinkW, toSrcR, sources, so)
		toSinkW.Close()
		toSrcR.Close()
	}()
	go func() {
		defer wg.Done()
		recvErr = ScpReceive(ctx, toSrcW, toSinkR, local, ro)
		toSrcW.Close()
		// Take what the sender still sends, as a channel does until it
		// closes: a sender told to go on ahead of a refused record reads
		// the refusal after its data instead of a broken pipe.
		io.Copy(io.Discard, toSinkR)
		toSinkR.Close()
	}()
	wg.Wait()
	return sendErr, recvErr
}

// scpEntry is what the tests compare of a file or directory.
type scpEntry struct {
	dir   bool
	mode  os.FileMode
	size  int64
	sum   [32]byte
	mtime int64
}

// scpSnapshot describes the tree under root by relative path, without
// root itself and without symbolic links.
func scpSnapshot(t *testing.T, root string) map[string]scpEntry {
	t.Helper()
	m := map[string]scpEntry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		e := scpEntry{dir: d.IsDir(), mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), mtime: info.ModTime().Unix()}
		if !d.IsDir() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			e.size, e.sum = int64(len(data)), sha256.Sum256(data)
		}
		m[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func scpRandom(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// scpTree makes a tree with nested and empty directories, an empty file,
// a 3 MiB file, odd names and symbolic links, and returns what should
// arrive: its snapshot, with the link to a file as that file.
func scpTree(t *testing.T) (root string, want map[string]scpEntry) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "tree")
	files := []struct {
		rel  string
		data []byte // nil for a directory
		mode os.FileMode
	}{
		{"", nil, 0o755},
		{"a file.txt", []byte("hello world\n"), 0o600},
		{`it's $HOME ` + "`x`" + ` "q".txt`, []byte("quoted"), 0o644},
		{"ünïcødé ☃.bin", scpRandom(t, 3<<20), 0o755},
		{"empty", []byte{}, 0o600},
		{"sub dir", nil, 0o755},
		{"sub dir/deeper", nil, 0o700},
		{"sub dir/deeper/leaf.txt", []byte("leaf"), 0o640},
		{"emptydir", nil, 0o750},
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.rel))
		var err error
		if f.data == nil {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, f.data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"a file.txt", "link-to-file"}, {"sub dir", "link-to-dir"}, {"missing", "dangling"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			envskip.Skipf(t, "no symbolic links: %v", err)
		}
	}
	for i, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.rel))
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2001, 2, 3, 4, 5, 6+i, 0, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	want = scpSnapshot(t, root)
	want["link-to-file"] = want["a file.txt"]
	return root, want
}

func TestScpSendReceiveTree(t *testing.T) {
	src, srcSnap := scpTree(t)
	tests := []struct {
		name     string
		opts     ScpOptions
		existing bool // receive into an existing directory
	}{
		{"preserve", ScpOptions{Recursive: true, PreserveTimes: true, PreserveMode: true}, true},
		{"defaults", ScpOptions{Recursive: true}, true},
		{"as new directory", ScpOptions{Recursive: true, PreserveTimes: true, PreserveMode: true, BufferSize: 1000}, false},
		{"explicit modes", ScpOptions{Recursive: true, FileMode: 0o600, DirMode: 0o700}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			got := dest
			if tt.existing {
				if err := os.Mkdir(dest, 0o755); err != nil {
					t.Fatal(err)
				}
				got = filepath.Join(dest, "tree")
			}
			sendErr, recvErr := scpPair(context.Background(), []ScpSource{{Path: src}}, tt.opts, tt.opts, dest)
			if sendErr != nil || recvErr != nil {
				t.Fatalf("send: %v, receive: %v", sendErr, recvErr)
			}
			want := map[string]scpEntry{}
			for k, e := range srcSnap {
				switch {
				case !tt.opts.PreserveMode && e.dir:
					e.mode = tt.opts.dirMode()
				case !tt.opts.PreserveMode:
					e.mode = tt.opts.fileMode()
				}
				if !tt.opts.PreserveTimes {
					e.mtime = 0
				}
				want[k] = e
			}
			snap := scpSnapshot(t, got)
			for k, e := range snap {
				if !tt.opts.PreserveTimes {
					e.mtime = 0
					snap[k] = e
				}
			}
			for k, w := range want {
				if g, ok := snap[k]; !ok {
					t.Errorf("%q missing", k)
				} else if g != w {
					t.Errorf("%q: got dir=%v mode=%v size=%d mtime=%d, want dir=%v mode=%v size=%d mtime=%d (same content: %v)",
						k, g.dir, g.mode, g.size, g.mtime, w.dir, w.mode, w.size, w.mtime, g.sum == w.sum)
				}
			}
			for k := range snap {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected %q", k)
				}
			}
		})
	}
}

func TestScpSendReceiveData(t *testing.T) {
	big := scpRandom(t, 1<<20+17)
	mt := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	sources := []ScpSource{
		{Name: "bytes.txt", Data: []byte("some bytes")},
		{Name: "reader bin", Reader: io.MultiReader(bytes.NewReader(big), strings.NewReader("ignored")), Size: int64(len(big))},
		{Name: "private $x", Data: []byte("secret"), Mode: 0o600, ModTime: mt},
		{Name: "empty"},
	}
	dest := t.TempDir()
	o := ScpOptions{PreserveTimes: true, PreserveMode: true, BufferSize: 4096}
	sendErr, recvErr := scpPair(context.Background(), sources, o, o, dest)
	if sendErr != nil || recvErr != nil {
		t.Fatalf("send: %v, receive: %v", sendErr, recvErr)
	}
	snap := scpSnapshot(t, dest)
	want := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"bytes.txt":  {[]byte("some bytes"), 0o644},
		"reader bin": {big, 0o644},
		"private $x": {[]byte("secret"), 0o600},
		"empty":      {nil, 0o644},
	}
	if len(snap) != len(want) {
		t.Errorf("got %d entries, want %d", len(snap), len(want))
	}
	for name, w := range want {
		g := snap[name]
		if g.sum != sha256.Sum256(w.data) || g.mode != w.mode {
			t.Errorf("%q: mode %v, want %v; content equal: %v", name, g.mode, w.mode, g.sum == sha256.Sum256(w.data))
		}
	}
	if got := snap["private $x"].mtime; got != mt.Unix() {
		t.Errorf("mtime %d, want %d", got, mt.Unix())
	}
}

func TestScpReceiveSingleFileAsPath(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "renamed.txt")
	sendErr, recvErr := scpPair(context.Background(), []ScpSource{{Name: "orig.txt", Data: []byte("x")}}, ScpOptions{}, ScpOptions{}, dest)
	if sendErr != nil || recvErr != nil {
		t.Fatalf("send: %v, receive: %v", sendErr, recvErr)
	}
	if b, err := os.ReadFile(dest); err != nil || string(b) != "x" {
		t.Fatalf("got %q, %v", b, err)
	}
	// Two entries cannot both become one file.
	dest2 := filepath.Join(t.TempDir(), "one")
	two := []ScpSource{{Name: "a", Data: []byte("a")}, {Name: "b", Data: []byte("b")}}
	sendErr, recvErr = scpPair(context.Background(), two, ScpOptions{}, ScpOptions{}, dest2)
	var se *ScpError
	if !errors.As(recvErr, &se) || se.Code != 0 || !errors.As(sendErr, &se) || se.Code != 2 {
		t.Fatalf("send: %v, receive: %v; want refusal", sendErr, recvErr)
	}
}

func TestScpSendBadSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  ScpSource
		want string
	}{
		{"dir without recursive", ScpSource{Path: dir}, dir},
		{"path and data", ScpSource{Path: file, Data: []byte("x")}, "not both"},
		{"data and reader", ScpSource{Name: "x", Data: []byte("x"), Reader: strings.NewReader("x")}, "not both"},
		{"no name", ScpSource{Data: []byte("x")}, "Name"},
		{"negative size", ScpSource{Name: "x", Reader: strings.NewReader(""), Size: -1}, "negative"},
		{"slash", ScpSource{Name: "a/b", Data: []byte("x")}, "single path element"},
		{"dotdot", ScpSource{Name: "..", Data: []byte("x")}, "not allowed"},
		{"newline", ScpSource{Name: "a\nb", Data: []byte("x")}, "single path element"},
		{"missing", ScpSource{Path: filepath.Join(dir, "missing")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing may be read or written before the sources are checked.
			err := ScpSend(context.Background(), failWriter{}, failWriter{}, []ScpSource{tt.src}, ScpOptions{})
			if KindOf(err) != KindBadOption || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a bad-option error with %q", err, tt.want)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("unexpected write") }
func (failWriter) Read([]byte) (int, error)  { return 0, errors.New("unexpected read") }

func TestScpSendWire(t *testing.T) {
	mt := time.Unix(1700000000, 0)
	tests := []struct {
		name string
		src  ScpSource
		opts ScpOptions
		want string
	}{
		{"data", ScpSource{Name: "hi.txt", Data: []byte("hello")}, ScpOptions{}, "C0644 5 hi.txt\nhello\x00"},
		{"mode and times", ScpSource{Name: "hi.txt", Data: []byte("hello"), Mode: 0o600, ModTime: mt},
			ScpOptions{PreserveTimes: true}, "T1700000000 0 1700000000 0\nC0600 5 hi.txt\nhello\x00"},
		{"times not asked", ScpSource{Name: "a", Data: []byte("x"), ModTime: mt}, ScpOptions{}, "C0644 1 a\nx\x00"},
		{"file mode, setuid", ScpSource{Name: "a b", Data: []byte("x")}, ScpOptions{FileMode: 0o755 | os.ModeSetuid}, "C4755 1 a b\nx\x00"},
		{"empty reader", ScpSource{Name: "e", Reader: strings.NewReader("")}, ScpOptions{}, "C0644 0 e\n\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w bytes.Buffer
			acks := bytes.NewReader(make([]byte, 10))
			if err := ScpSend(context.Background(), &w, acks, []ScpSource{tt.src}, tt.opts); err != nil {
				t.Fatal(err)
			}
			if w.String() != tt.want {
				t.Errorf("sent %q, want %q", w.String(), tt.want)
			}
		})
	}
}

func TestScpSendRemoteErrors(t *testing.T) {
	tests := []struct {
		replies string
		code    int
		msg     string
	}{
		{"\x00\x01scp: /x: Permission denied\n", 1, "scp: /x: Permission denied"},
		{"\x00\x02scp: fatal\n", 2, "scp: fatal"},
		{"\x01scp: ambiguous target\n", 1, "scp: ambiguous target"},
		{"", -1, ""},
		{"\x00", -1, ""},
		{"\x00X-ray\n", 0, `"X-ray"`},
	}
	for _, tt := range tests {
		err := ScpSend(context.Background(), io.Discard, strings.NewReader(tt.replies), []ScpSource{{Name: "x", Data: []byte("x")}}, ScpOptions{})
		var se *ScpError
		if !errors.As(err, &se) || se.Code != tt.code || !strings.Contains(se.Msg, tt.msg) || KindOf(err) != KindExec {
			t.Errorf("replies %q: got %v (%#v), want code %d with %q", tt.replies, err, se, tt.code, tt.msg)
		}
	}
	// A reader shorter than its Size.
	err := ScpSend(context.Background(), io.Discard, bytes.NewReader(make([]byte, 4)),
		[]ScpSource{{Name: "x", Reader: strings.NewReader("abc"), Size: 10}}, ScpOptions{})
	if KindOf(err) != KindBadOption || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: got %v", err)
	}
}

// scpHostile runs ScpReceive on input into a fresh target directory and
// checks that nothing appeared beside it.
func scpHostile(t *testing.T, input string, o ScpOptions) (error, string) {
	t.Helper()
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	err := ScpReceive(context.Background(), io.Discard, strings.NewReader(input), target, o)
	scpOnlyTarget(t, parent)
	return err, target
}

func scpOnlyTarget(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "target" {
			t.Errorf("%s written outside the target", e.Name())
		}
	}
}

func TestScpReceiveHostile(t *testing.T) {
	r := ScpOptions{Recursive: true}
	tests := []struct {
		name  string
		input string
		opts  ScpOptions
		code  int
		msg   string
	}{
		{"parent name", "C0644 3 ../evil\nabc\x00", r, 0, "not a single path element"},
		{"slash", "C0644 3 a/b\nabc\x00", r, 0, "not a single path element"},
		{"absolute", "C0644 3 /tmp/evil\nabc\x00", r, 0, "not a single path element"},
		{"dotdot file", "C0644 3 ..\nabc\x00", r, 0, "not allowed"},
		{"dot file", "C0644 3 .\nabc\x00", r, 0, "not allowed"},
		{"empty name", "C0644 3 \nabc\x00", r, 0, "empty file name"},
		{"nul", "C0644 3 a\x00b\nabc\x00", r, 0, "not a single path element"},
		{"dotdot dir", "D0755 0 ..\nC0644 3 evil\nabc\x00E\n", r, 0, "not allowed"},
		{"dir without recursive", "D0755 0 d\nE\n", ScpOptions{}, 0, "Recursive"},
		{"E at top level", "E\n", r, 0, "top level"},
		{"negative size", "C0644 -1 x\n", r, 0, "invalid size"},
		{"absurd size", "C0644 1125899906842625 x\n", r, 0, "invalid size"},
		{"bad mode", "C06z4 3 x\nabc\x00", r, 0, "malformed mode"},
		{"no name", "C0644 3\n", r, 0, "invalid size"},
		{"unknown record", "Zzz\n", r, 0, "unexpected record"},
		{"bad times", "T1 1000000 1 0\nC0644 0 x\n\x00", r, 0, "malformed times"},
		{"times then E", "T1 0 1 0\nE\n", r, 0, "times not followed"},
		{"long line", "C0644 3 " + strings.Repeat("a", 70000) + "\n", r, 0, "64 KiB"},
		{"truncated file", "C0644 10 x\nabc", r, -1, "after 3 of 10 bytes"},
		{"truncated record", "C0644 10 x", r, -1, "middle of a record"},
		{"inside directory", "D0755 0 d\nC0644 1 x\na\x00", r, -1, "inside directory"},
		{"nothing", "", r, -1, "before anything"},
		{"remote error", "\x01scp: x: No such file\n", r, 1, "scp: x: No such file"},
		{"remote fatal", "\x02scp: boom\n", r, 2, "scp: boom"},
		{"source status", "C0644 1 x\na\x01scp: x: read error\n", r, 1, "read error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, target := scpHostile(t, tt.input, tt.opts)
			var se *ScpError
			if !errors.As(err, &se) || se.Code != tt.code || !strings.Contains(se.Msg, tt.msg) || KindOf(err) != KindExec {
				t.Fatalf("got %v (%#v), want code %d with %q", err, se, tt.code, tt.msg)
			}
			if tt.code == 0 {
				if entries, _ := os.ReadDir(target); len(entries) > 0 {
					t.Errorf("refused input wrote %s", entries[0].Name())
				}
			}
		})
	}
}

func TestScpReceiveWarningThenFiles(t *testing.T) {
	err, target := scpHostile(t, "\x01scp: a: not a regular file\nC0644 1 b\nx\x00", ScpOptions{})
	var se *ScpError
	if !errors.As(err, &se) || se.Code != 1 || se.Msg != "scp: a: not a regular file" {
		t.Fatalf("got %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "b")); err != nil || string(b) != "x" {
		t.Errorf("b: %q, %v", b, err)
	}
}

// TestScpReceiveAnswersAhead plays the remote scp strictly: before each
// step it waits for the statuses the sink must have sent by then. The
// sink answers every record header before it arrives, so the remote
// sends a file's data without waiting a round trip for its C record's
// answer; the status after a file's data is never sent ahead.
func TestScpReceiveAnswersAhead(t *testing.T) {
	type step struct {
		statuses int // read before sending
		send     string
	}
	for _, tt := range []struct {
		name  string
		o     ScpOptions
		steps []step
		want  map[string]string
	}{
		{"one file", ScpOptions{}, []step{
			{2, "C0644 5 f\nhello\x00"},
			{1, ""},
		}, map[string]string{"f": "hello"}},
		{"two files", ScpOptions{}, []step{
			{2, "C0644 1 a\nA\x00"},
			{2, "C0644 2 b\nBB\x00"},
			{1, ""},
		}, map[string]string{"a": "A", "b": "BB"}},
		{"times", ScpOptions{PreserveTimes: true}, []step{
			{2, "T1600000000 0 1600000000 0\n"},
			{1, "C0644 3 f\nabc\x00"},
			{1, ""},
		}, map[string]string{"f": "abc"}},
		{"directory", ScpOptions{Recursive: true}, []step{
			{2, "D0755 0 d\n"},
			{1, "C0644 1 g\nG\x00"},
			{2, "E\n"},
			{1, ""},
		}, map[string]string{"d/g": "G"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			toSinkR, toSinkW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			toSrcR, toSrcW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer toSrcR.Close()
			target := t.TempDir()
			if len(tt.want) == 1 && !tt.o.Recursive {
				target = filepath.Join(target, "f")
			}
			done := make(chan error, 1)
			go func() {
				err := ScpReceive(context.Background(), toSrcW, toSinkR, target, tt.o)
				toSrcW.Close()
				toSinkR.Close()
				done <- err
			}()
			for i, st := range tt.steps {
				toSrcR.SetReadDeadline(time.Now().Add(5 * time.Second))
				got := make([]byte, st.statuses)
				if _, err := io.ReadFull(toSrcR, got); err != nil {
					t.Fatalf("step %d: waiting for %d statuses: %v", i, st.statuses, err)
				}
				if !bytes.Equal(got, make([]byte, st.statuses)) {
					t.Fatalf("step %d: statuses %q", i, got)
				}
				if _, err := io.WriteString(toSinkW, st.send); err != nil {
					t.Fatal(err)
				}
			}
			toSinkW.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for name, data := range tt.want {
				path := filepath.Join(target, filepath.FromSlash(name))
				if len(tt.want) == 1 && !tt.o.Recursive {
					path = target
				}
				if b, err := os.ReadFile(path); err != nil || string(b) != data {
					t.Errorf("%s: %q, %v", name, b, err)
				}
			}
		})
	}
}

func TestScpReceiveStream(t *testing.T) {
	in := "T1600000000 0 1600000001 0\nD0700 0 d\nT1500000000 0 1500000000 0\nC4750 3 f\nabc\x00C0600 0 e\n\x00E\n"
	err, target := scpHostile(t, in, ScpOptions{Recursive: true, PreserveTimes: true, PreserveMode: true})
	if err != nil {
		t.Fatal(err)
	}
	snap := scpSnapshot(t, target)
	want := map[string]scpEntry{
		"d":   {dir: true, mode: 0o700, mtime: 1600000000},
		"d/f": {mode: 0o750 | os.ModeSetuid, size: 3, sum: sha256.Sum256([]byte("abc")), mtime: 1500000000},
		"d/e": {mode: 0o600, sum: sha256.Sum256(nil), mtime: snap["d/e"].mtime},
	}
	for k, w := range want {
		if snap[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, snap[k], w)
		}
	}
}

func TestScpReceiveSymlinkInTarget(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{target, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(target, "link")); err != nil {
		envskip.Skip(t, err)
	}
	if err := os.Symlink(filepath.Join(outside, "f"), filepath.Join(target, "flink")); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"D0755 0 link\nC0644 3 f\nabc\x00E\n", "C0644 3 flink\nabc\x00"} {
		err := ScpReceive(context.Background(), io.Discard, strings.NewReader(in), target, ScpOptions{Recursive: true})
		var se *ScpError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "symbolic link") {
			t.Errorf("%q: got %v, want refusal", in, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote %s through a link", entries[0].Name())
	}
}

func TestScpProgress(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, scpRandom(t, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	type call struct {
		name         string
		offset, size int64
	}
	var sent, received []call
	so := ScpOptions{BufferSize: 1 << 20, Progress: func(n string, o, s int64) { sent = append(sent, call{n, o, s}) }}
	ro := ScpOptions{BufferSize: 1 << 20, Progress: func(n string, o, s int64) { received = append(received, call{n, o, s}) }}
	dest := filepath.Join(dir, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	sources := []ScpSource{{Path: big}, {Name: "empty"}}
	if sendErr, recvErr := scpPair(context.Background(), sources, so, ro, dest); sendErr != nil || recvErr != nil {
		t.Fatalf("send: %v, receive: %v", sendErr, recvErr)
	}
	mb := int64(1 << 20)
	wantSent := []call{{big, mb, 3 * mb}, {big, 2 * mb, 3 * mb}, {big, 3 * mb, 3 * mb}, {"empty", 0, 0}}
	bigDest, emptyDest := filepath.Join(dest, "big"), filepath.Join(dest, "empty")
	wantReceived := []call{{bigDest, mb, 3 * mb}, {bigDest, 2 * mb, 3 * mb}, {bigDest, 3 * mb, 3 * mb}, {emptyDest, 0, 0}}
	if !slices.Equal(sent, wantSent) {
		t.Errorf("sent progress %v, want %v", sent, wantSent)
	}
	if !slices.Equal(received, wantReceived) {
		t.Errorf("received progress %v, want %v", received, wantReceived)
	}
}

func TestScpContext(t *testing.T) {
	// A remote that never answers: ctx ends, the caller closes the
	// streams, and both sides return ctx.Err().
	for _, side := range []string{"send", "receive"} {
		t.Run(side, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r, w := io.Pipe()
			stop := context.AfterFunc(ctx, func() { r.Close() })
			defer stop()
			done := make(chan error, 1)
			go func() {
				if side == "send" {
					done <- ScpSend(ctx, io.Discard, r, []ScpSource{{Name: "x", Data: []byte("x")}}, ScpOptions{})
				} else {
					done <- ScpReceive(ctx, io.Discard, r, t.TempDir(), ScpOptions{})
				}
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("got %v, want %v", err, context.DeadlineExceeded)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("did not return after ctx ended")
			}
			w.Close()
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ScpSend(ctx, failWriter{}, failWriter{}, nil, ScpOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ScpSend with ended ctx: %v", err)
	}
	if err := ScpReceive(ctx, failWriter{}, failWriter{}, t.TempDir(), ScpOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ScpReceive with ended ctx: %v", err)
	}
}

func TestScpCommands(t *testing.T) {
	tests := []struct {
		path         string
		opts         ScpOptions
		send, recv   string
		shellRoundup bool
	}{
		{"file.txt", ScpOptions{}, "scp -t -- 'file.txt'", "scp -f -- 'file.txt'", true},
		{"dir with space/x y", ScpOptions{Recursive: true}, "scp -r -t -- 'dir with space/x y'", "scp -r -f -- 'dir with space/x y'", true},
		{"it's", ScpOptions{PreserveTimes: true}, `scp -p -t -- 'it'\''s'`, `scp -p -f -- 'it'\''s'`, true},
		{"$HOME/x", ScpOptions{PreserveMode: true}, "scp -p -t -- '$HOME/x'", "scp -p -f -- '$HOME/x'", true},
		{"`id`;rm", ScpOptions{Recursive: true, PreserveTimes: true}, "scp -r -p -t -- '`id`;rm'", "scp -r -p -f -- '`id`;rm'", true},
		{"ünïcødé ☃", ScpOptions{}, "scp -t -- 'ünïcødé ☃'", "scp -f -- 'ünïcødé ☃'", true},
		{"~/x", ScpOptions{}, "scp -t -- '~/x'", "scp -f -- '~/x'", true},
		{`"\n'`, ScpOptions{}, `scp -t -- '"\n'\'''`, `scp -f -- '"\n'\'''`, true},
		{"", ScpOptions{}, "scp -t -- '.'", "scp -f -- '.'", false},
	}
	sh, shErr := exec.LookPath("sh")
	for _, tt := range tests {
		if got := ScpSendCommand(tt.path, tt.opts); got != tt.send {
			t.Errorf("ScpSendCommand(%q) = %s, want %s", tt.path, got, tt.send)
		}
		if got := ScpReceiveCommand(tt.path, tt.opts); got != tt.recv {
			t.Errorf("ScpReceiveCommand(%q) = %s, want %s", tt.path, got, tt.recv)
		}
		if tt.shellRoundup && shErr == nil {
			// The local shell reads the quoted path back unchanged.
			out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(tt.path)).Output()
			if err != nil || string(out) != tt.path {
				t.Errorf("sh read %q back as %q (%v)", tt.path, out, err)
			}
		}
	}
}

func FuzzScpReceive(f *testing.F) {
	for _, seed := range []string{
		"C0644 3 x\nabc\x00",
		"T1600000000 0 1600000001 0\nD0700 0 d\nC0600 3 f\nabc\x00E\n",
		"D0755 0 d\nD0755 0 e\nC0644 0 f\n\x00E\nE\n",
		"C0644 3 ../evil\nabc\x00",
		"D0755 0 ..\nC0644 1 x\na\x00E\n",
		"\x01scp: x: No such file\n",
		"E\nE\n",
		"C0000 1 x\nxD0000 0 y\nE\n",
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(0x0f))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		parent := t.TempDir()
		target := filepath.Join(parent, "target")
		if flags&8 != 0 {
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// Let the cleanup remove directories the input made unreadable.
		t.Cleanup(func() {
			filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o700)
				}
				return nil
			})
		})
		o := ScpOptions{Recursive: flags&1 != 0, PreserveTimes: flags&2 != 0, PreserveMode: flags&4 != 0, BufferSize: 16 + int(flags>>4)}
		ScpReceive(context.Background(), io.Discard, bytes.NewReader(data), target, o)
		scpOnlyTarget(t, parent)
	})
}
