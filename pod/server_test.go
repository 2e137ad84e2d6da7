package pod

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackpal/bencode-go"
	"olympos.io/encoding/edn"
)

// testServer has a sync var, a streaming var, a var that fails with
// ex-data, one that panics and one that blocks until cancelled.
func testServer() *Server {
	s := NewServer(Options{ID: "pod.test", ErrorType: "test/error"})
	ns := s.Namespace("pod.test.core").SetCode("(defn hello [] :hi)")
	ns.Add(&Var{Name: "add", MinArgs: 2, MaxArgs: 2, Doc: "Adds.", Arglists: []string{"[a b]"},
		Fn: func(c *Call) (any, error) {
			a, err := c.Args.Int(0)
			if err != nil {
				return nil, err
			}
			b, err := c.Args.Int(1)
			if err != nil {
				return nil, err
			}
			return a + b, nil
		}})
	ns.Add(&Var{Name: "count-to", MinArgs: 1, MaxArgs: 1,
		Stream: func(c *Call) error {
			n, err := c.Args.Int(0)
			if err != nil {
				return err
			}
			for i := int64(1); i <= n; i++ {
				if err := c.Send(i); err != nil {
					return err
				}
			}
			return nil
		}})
	ns.Add(&Var{Name: "fail", MinArgs: 0, MaxArgs: 0,
		Fn: func(c *Call) (any, error) {
			return nil, Errorf("test/boom", "it failed").With("code", 7)
		}})
	ns.Add(&Var{Name: "panic", MinArgs: 0, MaxArgs: 0,
		Fn: func(c *Call) (any, error) { panic("oops") }})
	ns.Add(&Var{Name: "block", MinArgs: 0, MaxArgs: 0,
		Fn: func(c *Call) (any, error) { <-c.Ctx.Done(); return nil, c.Ctx.Err() }})
	return s
}

func encode(t *testing.T, msgs ...map[string]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := bencode.Marshal(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// reply is a decoded reply.
type reply map[string]any

func (r reply) str(k string) string { s, _ := r[k].(string); return s }

func (r reply) status() string {
	var parts []string
	if l, ok := r["status"].([]any); ok {
		for _, x := range l {
			parts = append(parts, x.(string))
		}
	}
	return strings.Join(parts, ",")
}

func (r reply) exType(t *testing.T) string {
	t.Helper()
	var data map[any]any
	if err := edn.UnmarshalString(r.str("ex-data"), &data); err != nil {
		t.Fatalf("ex-data %q: %v", r.str("ex-data"), err)
	}
	return string(data[edn.Keyword("type")].(edn.Keyword))
}

func decodeAll(t *testing.T, out []byte) []reply {
	t.Helper()
	var replies []reply
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		if _, err := r.Peek(1); err != nil {
			break
		}
		v, err := bencode.Decode(r)
		if err != nil {
			t.Fatalf("decoding replies: %v", err)
		}
		replies = append(replies, reply(v.(map[string]any)))
	}
	return replies
}

// byID groups replies by invoke id.
func byID(rs []reply) map[string][]reply {
	m := map[string][]reply{}
	for _, r := range rs {
		m[r.str("id")] = append(m[r.str("id")], r)
	}
	return m
}

// serveAll feeds input in one write, closes it, and returns every reply
// once the server has finished and its calls have answered.
func serveAll(t *testing.T, s *Server, input []byte, wantReplies int) []reply {
	t.Helper()
	pr, pw := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), pr, &out) }()
	if _, err := pw.Write(input); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(decodeAll(t, out.Bytes())) < wantReplies {
		time.Sleep(5 * time.Millisecond)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return decodeAll(t, out.Bytes())
}

func TestBackToBackMessagesAllAnswered(t *testing.T) {
	var msgs []map[string]any
	msgs = append(msgs, map[string]any{"op": "describe", "id": "d"})
	for i := 0; i < 50; i++ {
		msgs = append(msgs, map[string]any{"op": "invoke", "id": "i" + strconv.Itoa(i), "var": "pod.test.core/add", "args": "[" + strconv.Itoa(i) + " 1]"})
	}
	replies := byID(serveAll(t, testServer(), encode(t, msgs...), 51))
	for i := 0; i < 50; i++ {
		got := replies["i"+strconv.Itoa(i)]
		if len(got) != 1 || got[0].str("value") != strconv.Itoa(i+1) || got[0].status() != "done" {
			t.Fatalf("invoke %d: got %v", i, got)
		}
	}
	if len(replies["d"]) != 1 || replies["d"][0].str("format") != "edn" {
		t.Fatalf("describe: %v", replies["d"])
	}
}

func TestDescribe(t *testing.T) {
	d := byID(serveAll(t, testServer(), encode(t, map[string]any{"op": "describe", "id": "d"}), 1))["d"][0]
	nss := d["namespaces"].([]any)
	if first := nss[0].(map[string]any)["name"]; first != "pod.test" {
		t.Fatalf("first namespace (pod id) = %v", first)
	}
	core := nss[1].(map[string]any)
	vars := core["vars"].([]any)
	add := vars[0].(map[string]any)
	if add["name"] != "add" || add["meta"] != `{:doc "Adds." :arglists ([a b])}` {
		t.Fatalf("add var: %v", add)
	}
	last := vars[len(vars)-1].(map[string]any)
	if last["name"] != "_" || last["code"] != "(defn hello [] :hi)" {
		t.Fatalf("code var: %v", last)
	}
	if _, ok := d["ops"].(map[string]any)["shutdown"]; !ok {
		t.Fatalf("ops lacks shutdown: %v", d["ops"])
	}
}

func TestErrorsAreRepliesAndServingGoesOn(t *testing.T) {
	tests := []struct {
		name, varName, args, wantType, wantMsg string
	}{
		{"unknown var", "pod.test.core/nope", "[]", "test/unknown-var", "var not found: pod.test.core/nope"},
		{"too few args", "pod.test.core/add", "[1]", "test/arity", "wrong number of args (1) passed to pod.test.core/add, expected 2"},
		{"wrong type", "pod.test.core/add", `["x" 1]`, "test/bad-argument", `argument 1 must be an integer, got string "x"`},
		{"unreadable args", "pod.test.core/add", `[1 2`, "test/bad-argument", "cannot read the arguments"},
		{"args not a vector", "pod.test.core/add", `{:a 1}`, "test/bad-argument", "args must be a vector"},
		{"nil args is no args: arity checked", "pod.test.core/add", "nil", "test/arity", "wrong number of args (0) passed to pod.test.core/add, expected 2"},
		{"nil args reach a zero-argument var", "pod.test.core/fail", "nil", "test/boom", "it failed"},
		{"typed error", "pod.test.core/fail", "[]", "test/boom", "it failed"},
		{"panic", "pod.test.core/panic", "[]", "test/internal-error", "internal error in pod.test.core/panic: oops"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := encode(t,
				map[string]any{"op": "invoke", "id": "bad", "var": tc.varName, "args": tc.args},
				map[string]any{"op": "invoke", "id": "next", "var": "pod.test.core/add", "args": "[2 3]"})
			replies := byID(serveAll(t, testServer(), input, 2))
			bad := replies["bad"]
			if len(bad) != 1 || bad[0].status() != "done,error" {
				t.Fatalf("bad call replies: %v", bad)
			}
			if got := bad[0].exType(t); got != tc.wantType {
				t.Errorf(":type = %s, want %s", got, tc.wantType)
			}
			if !strings.Contains(bad[0].str("ex-message"), tc.wantMsg) {
				t.Errorf("ex-message = %q, want it to contain %q", bad[0].str("ex-message"), tc.wantMsg)
			}
			if next := replies["next"]; len(next) != 1 || next[0].str("value") != "5" {
				t.Errorf("the next call was not answered: %v", next)
			}
		})
	}
}

func TestExDataCarriesExtraKeys(t *testing.T) {
	r := byID(serveAll(t, testServer(), encode(t, map[string]any{"op": "invoke", "id": "f", "var": "pod.test.core/fail", "args": "[]"}), 1))["f"][0]
	var data map[any]any
	if err := edn.UnmarshalString(r.str("ex-data"), &data); err != nil {
		t.Fatal(err)
	}
	if data[edn.Keyword("code")] != int64(7) {
		t.Fatalf("ex-data = %v", data)
	}
}

func TestStreamingCallSendsValuesThenDone(t *testing.T) {
	replies := byID(serveAll(t, testServer(), encode(t, map[string]any{"op": "invoke", "id": "s", "var": "pod.test.core/count-to", "args": "[3]"}), 4))["s"]
	if len(replies) != 4 {
		t.Fatalf("got %d replies, want 3 values and done: %v", len(replies), replies)
	}
	for i, r := range replies[:3] {
		if r.str("value") != strconv.Itoa(i+1) || r.status() != "" {
			t.Errorf("value %d: %v", i, r)
		}
	}
	if replies[3].status() != "done" || replies[3]["value"] != nil {
		t.Errorf("final reply: %v", replies[3])
	}
}

func TestShutdownStopsServingAndCancelsCalls(t *testing.T) {
	pr, pw := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	s := testServer()
	go func() { done <- s.Serve(context.Background(), pr, &out) }()
	pw.Write(encode(t, map[string]any{"op": "invoke", "id": "b", "var": "pod.test.core/block", "args": "[]"}))
	pw.Write(encode(t, map[string]any{"op": "shutdown", "id": "x"}))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && len(decodeAll(t, out.Bytes())) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if r := byID(decodeAll(t, out.Bytes()))["b"]; len(r) != 1 || r[0].status() != "done,error" {
		t.Fatalf("blocked call was not ended by shutdown: %v", r)
	}
}

func TestGarbageInputEndsServeWithError(t *testing.T) {
	s := testServer()
	err := s.Serve(context.Background(), strings.NewReader("i42e"), io.Discard)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("Serve(non-dict) = %v, want ErrBadMessage", err)
	}
	err = s.Serve(context.Background(), strings.NewReader("d2:op"), io.Discard)
	if err == nil {
		t.Fatal("truncated frame: want an error")
	}
	err = s.Serve(context.Background(), strings.NewReader("d2:opi1ee"), io.Discard)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("op of wrong type = %v, want ErrBadMessage", err)
	}
}

func TestSocketTransport(t *testing.T) {
	dir := t.TempDir()
	type result struct {
		tr  *Transport
		err error
	}
	ch := make(chan result, 1)
	go func() {
		tr, err := ListenSocket(context.Background(), dir)
		ch <- result{tr, err}
	}()
	portFile := filepath.Join(dir, PortFileName(os.Getpid()))
	var content []byte
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(portFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			content = b
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if content == nil {
		t.Fatal("port file never appeared")
	}
	port := strings.TrimSpace(string(content))
	conn, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := <-ch
	if res.err != nil {
		t.Fatal(res.err)
	}
	done := make(chan error, 1)
	go func() { done <- testServer().Serve(context.Background(), res.tr, res.tr) }()
	conn.Write(encode(t, map[string]any{"op": "invoke", "id": "1", "var": "pod.test.core/add", "args": "[40 2]"}))
	v, err := bencode.Decode(conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := reply(v.(map[string]any)).str("value"); got != "42" {
		t.Fatalf("value over socket = %q", got)
	}
	conn.Write(encode(t, map[string]any{"op": "shutdown"}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := res.tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(portFile); !os.IsNotExist(err) {
		t.Fatalf("port file still there after Close: %v", err)
	}
	if err := res.tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSocketTransportGivesUpAndRemovesPortFile(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := ListenSocket(ctx, dir); err == nil {
		t.Fatal("want an error when nobody connects")
	}
	if _, err := os.Stat(filepath.Join(dir, PortFileName(os.Getpid()))); !os.IsNotExist(err) {
		t.Fatalf("port file left behind: %v", err)
	}
}

func TestMalformedArglistPanicsAtRegistration(t *testing.T) {
	srv := NewServer(Options{ID: "t"})
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "not an EDN vector") {
			t.Fatalf("recover() = %v, want a panic about the arglist", p)
		}
	}()
	srv.Namespace("t.ns").Add(&Var{Name: "f", Arglists: []string{"[s {:a :b :c}]"},
		Fn: func(*Call) (any, error) { return nil, nil }})
}
