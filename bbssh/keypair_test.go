package bbssh

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestGenerateKeyPair(t *testing.T) {
	for _, tc := range []struct {
		typ      string
		bits     int
		size     int
		keyType  string
		sigAlgs  []string
		wantKind Kind
	}{
		{typ: "rsa", bits: 1024, size: 1024, keyType: "ssh-rsa", sigAlgs: []string{"", "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"}},
		{typ: "rsa", bits: 0, size: 2048, keyType: "ssh-rsa", sigAlgs: []string{""}},
		{typ: "ecdsa", bits: 256, size: 256, keyType: "ecdsa-sha2-nistp256", sigAlgs: []string{"", "ecdsa-sha2-nistp256"}},
		{typ: "ecdsa", bits: 2048, size: 256, keyType: "ecdsa-sha2-nistp256", sigAlgs: []string{""}},
		{typ: "ecdsa", bits: 384, size: 384, keyType: "ecdsa-sha2-nistp384", sigAlgs: []string{""}},
		{typ: "ecdsa", bits: 521, size: 521, keyType: "ecdsa-sha2-nistp521", sigAlgs: []string{""}},
		{typ: "ed25519", bits: 2048, size: 32, keyType: "ssh-ed25519", sigAlgs: []string{"", "ssh-ed25519"}},
		{typ: "dsa", bits: 1024, wantKind: KindUnsupported},
		{typ: "ed448", wantKind: KindUnsupported},
		{typ: "rsa", bits: 512, wantKind: KindBadOption},
		{typ: "ecdsa", bits: 123, wantKind: KindBadOption},
		{typ: "x25519", wantKind: KindBadOption},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			kp, err := GenerateKeyPair(tc.typ, tc.bits)
			if tc.wantKind != "" {
				if KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v, want kind %s", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if size, _ := kp.KeySize(); size != tc.size {
				t.Errorf("size = %d, want %d", size, tc.size)
			}
			if got := kp.PublicKey().Type(); got != tc.keyType {
				t.Errorf("type = %s, want %s", got, tc.keyType)
			}
			fp, _ := kp.FingerprintMD5()
			if !regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`).MatchString(fp) {
				t.Errorf("MD5 fingerprint %q", fp)
			}
			for _, alg := range tc.sigAlgs {
				data := []byte("signed data " + alg)
				blob, err := kp.Sign(data, alg)
				if err != nil {
					t.Fatalf("sign %q: %v", alg, err)
				}
				var sig ssh.Signature
				if err := ssh.Unmarshal(blob, &sig); err != nil {
					t.Fatalf("signature blob: %v", err)
				}
				if want := alg; want != "" && sig.Format != want {
					t.Errorf("format %s, want %s", sig.Format, want)
				}
				if err := kp.PublicKey().Verify(data, &sig); err != nil {
					t.Errorf("verify %q: %v", alg, err)
				}
			}
		})
	}
}

// TestKeyPairFiles writes keys, encrypted and not, and reads them back
// with LoadKeyPairFiles and with OpenSSH's ssh-keygen.
func TestKeyPairFiles(t *testing.T) {
	keygen, _ := exec.LookPath("ssh-keygen")
	dir := t.TempDir()
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		kp, err := GenerateKeyPair(typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		plain, enc := filepath.Join(dir, typ), filepath.Join(dir, typ+"_enc")
		if err := kp.WritePrivateKey(plain, nil); err != nil {
			t.Fatal(err)
		}
		if err := kp.WritePublicKey(plain+".pub", "me@test"); err != nil {
			t.Fatal(err)
		}
		kp.SetPassphrase([]byte("pass word"))
		if err := kp.WritePrivateKey(enc, nil); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(plain); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", plain, st.Mode())
		}
		back, err := LoadKeyPairFiles(plain, "")
		if err != nil {
			t.Fatal(err)
		}
		if back.IsEncrypted() || !bytes.Equal(back.PublicKey().Marshal(), kp.PublicKey().Marshal()) || back.Comment() != "me@test" {
			t.Errorf("%s read back: encrypted %v comment %q", typ, back.IsEncrypted(), back.Comment())
		}
		sealed, err := LoadKeyPairFiles(enc, plain+".pub")
		if err != nil {
			t.Fatal(err)
		}
		if !sealed.IsEncrypted() {
			t.Errorf("%s: encrypted file not seen as encrypted", typ)
		}
		if _, err := sealed.Sign([]byte("x"), ""); KindOf(err) != KindBadKey {
			t.Errorf("sign while encrypted: %v", err)
		}
		if sealed.Decrypt([]byte("wrong")) || !sealed.IsEncrypted() {
			t.Errorf("%s: wrong passphrase accepted", typ)
		}
		if !sealed.Decrypt([]byte("pass word")) || sealed.IsEncrypted() {
			t.Errorf("%s: right passphrase refused", typ)
		}
		if _, err := sealed.Sign([]byte("x"), ""); err != nil {
			t.Errorf("sign after decrypt: %v", err)
		}
		if keygen == "" {
			continue
		}
		for _, c := range []struct{ file, pass string }{{plain, ""}, {enc, "pass word"}} {
			out, err := exec.Command(keygen, "-y", "-P", c.pass, "-f", c.file).CombinedOutput()
			if err != nil {
				t.Fatalf("ssh-keygen -y %s: %v: %s", c.file, err, out)
			}
			pub, _, _, _, err := ssh.ParseAuthorizedKey(out)
			if err != nil || !bytes.Equal(pub.Marshal(), kp.PublicKey().Marshal()) {
				t.Errorf("ssh-keygen -y %s gave %q (%v)", c.file, out, err)
			}
		}
		if out, err := exec.Command(keygen, "-y", "-P", "wrong", "-f", enc).CombinedOutput(); err == nil {
			t.Errorf("ssh-keygen read %s with a wrong passphrase: %s", enc, out)
		}
	}
}

func TestKeyPairHalves(t *testing.T) {
	kp, err := GenerateKeyPair("ed25519", 0)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := kp.PrivateKeyPEM(nil)
	pub, _ := kp.AuthorizedKey("c")
	blob, _ := kp.PublicKeyBlob()
	other, _ := GenerateKeyPair("ed25519", 0)
	otherPub, _ := other.AuthorizedKey("")
	fp, _ := kp.FingerprintMD5()
	for _, tc := range []struct {
		name      string
		priv, pub []byte
		canSign   bool
		wantKind  Kind
	}{
		{name: "both", priv: priv, pub: pub, canSign: true},
		{name: "private only", priv: priv, canSign: true},
		{name: "public line only", pub: pub},
		{name: "public blob only", pub: blob},
		{name: "neither", wantKind: KindBadKey},
		{name: "mismatch", priv: priv, pub: otherPub, wantKind: KindBadKey},
		{name: "garbage private", priv: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), wantKind: KindBadKey},
		{name: "garbage public", pub: []byte("ssh-ed25519 !!!"), wantKind: KindBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadKeyPair(tc.priv, tc.pub)
			if tc.wantKind != "" {
				if KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v, want %s", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := k.FingerprintMD5(); got != fp {
				t.Errorf("fingerprint %s, want %s", got, fp)
			}
			if size, _ := k.KeySize(); size != 32 {
				t.Errorf("size %d", size)
			}
			_, err = k.Sign([]byte("data"), "")
			if (err == nil) != tc.canSign {
				t.Errorf("sign: %v, want possible=%v", err, tc.canSign)
			}
			if !tc.canSign && !strings.Contains(err.Error(), "public half") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
	kp.Dispose()
	if _, err := kp.Sign([]byte("x"), ""); err == nil || !strings.Contains(err.Error(), "disposed") {
		t.Errorf("sign after dispose: %v", err)
	}
	if _, err := kp.FingerprintMD5(); err != nil {
		t.Errorf("fingerprint after dispose: %v", err)
	}
}
