package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"bbssh/bbssh"
	"bbssh/pod"

	"golang.org/x/crypto/ssh"
)

// Identities (pod.epiccastle.bbssh.identity, identity-repository,
// ssh-agent): the keys a session offers in publickey auth, as JSch's
// Identity and IdentityRepository. An identity may be a key the pod holds
// (agent/add-identity), one implemented in the script, or one in an
// ssh-agent; a repository may be an agent's own list, one implemented in
// the script, or an ssh-agent.

// identity is one key that can sign.
type identity interface {
	publicKeyBlob(ctx context.Context) ([]byte, error)
	// sign returns the SSH signature blob of data; algorithm is the
	// signature algorithm asked for ("" for the key type's own).
	sign(ctx context.Context, data []byte, algorithm string) ([]byte, error)
	algName(ctx context.Context) (string, error)
	name(ctx context.Context) (string, error)
	isEncrypted(ctx context.Context) (bool, error)
	setPassphrase(ctx context.Context, passphrase []byte) (bool, error)
	clear(ctx context.Context) error
}

// identityRepo is a list of identities.
type identityRepo interface {
	repoName(ctx context.Context) (string, error)
	status(ctx context.Context) (any, error)
	identities(ctx context.Context) ([]identity, error)
	// add adds a private key given as its file's contents.
	add(ctx context.Context, key []byte) (bool, error)
	// remove removes the identity whose public key blob is blob.
	remove(ctx context.Context, blob []byte) (bool, error)
	removeAll(ctx context.Context) error
}

// keyIdentity is a key the pod holds, named as JSch names them (the file,
// or the name given).
type keyIdentity struct {
	kp       *bbssh.KeyPair
	nameText string
}

func (k *keyIdentity) publicKeyBlob(context.Context) ([]byte, error) { return k.kp.PublicKeyBlob() }
func (k *keyIdentity) sign(_ context.Context, data []byte, alg string) ([]byte, error) {
	return k.kp.Sign(data, alg)
}
func (k *keyIdentity) algName(context.Context) (string, error) {
	pub := k.kp.PublicKey()
	if pub == nil {
		return "", fmt.Errorf("identity %s: the public half is not known until it is decrypted", k.nameText)
	}
	return pub.Type(), nil
}
func (k *keyIdentity) name(context.Context) (string, error)      { return k.nameText, nil }
func (k *keyIdentity) isEncrypted(context.Context) (bool, error) { return k.kp.IsEncrypted(), nil }
func (k *keyIdentity) clear(context.Context) error               { k.kp.Dispose(); return nil }
func (k *keyIdentity) setPassphrase(_ context.Context, p []byte) (bool, error) {
	return k.kp.Decrypt(p), nil
}

// bbIdentity is an identity implemented in the script.
type bbIdentity struct{ *bbObject }

func (b *bbIdentity) publicKeyBlob(ctx context.Context) ([]byte, error) {
	return b.invokeBytes(ctx, "get-public-key-blob")
}
func (b *bbIdentity) sign(ctx context.Context, data []byte, alg string) ([]byte, error) {
	args := []any{b64(data)}
	if alg != "" {
		args = append(args, alg)
	}
	return b.invokeBytes(ctx, "get-signature", args...)
}
func (b *bbIdentity) algName(ctx context.Context) (string, error) {
	return b.invokeString(ctx, "get-alg-name")
}
func (b *bbIdentity) name(ctx context.Context) (string, error) {
	return b.invokeString(ctx, "get-name")
}
func (b *bbIdentity) isEncrypted(ctx context.Context) (bool, error) {
	return truthyResult(b.invoke(ctx, "is-encrypted"))
}
func (b *bbIdentity) setPassphrase(ctx context.Context, p []byte) (bool, error) {
	var arg any
	if p != nil {
		arg = b64(p)
	}
	return truthyResult(b.invoke(ctx, "set-passphrase", arg))
}
func (b *bbIdentity) clear(ctx context.Context) error {
	_, err := b.invoke(ctx, "clear")
	return err
}

// localRepo is a bbssh agent's own list of identities (JSch's
// LocalIdentityRepository).
type localRepo struct {
	mu  sync.Mutex
	ids []identity
}

func (r *localRepo) repoName(context.Context) (string, error) {
	return "Local Identity Repository", nil
}
func (r *localRepo) status(context.Context) (any, error) { return kw("running"), nil }
func (r *localRepo) identities(context.Context) ([]identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), nil
}
func (r *localRepo) add(_ context.Context, key []byte) (bool, error) {
	kp, err := bbssh.LoadKeyPair(key, nil)
	if err != nil {
		return false, err
	}
	r.addIdentity(&keyIdentity{kp: kp, nameText: "added key"})
	return true, nil
}

// addIdentity appends id, unless an identity with its public key is
// there already (as JSch).
func (r *localRepo) addIdentity(id identity) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if blob, err := id.publicKeyBlob(context.Background()); err == nil && blob != nil {
		for _, old := range r.ids {
			if b, err := old.publicKeyBlob(context.Background()); err == nil && string(b) == string(blob) {
				return
			}
		}
	}
	r.ids = append(r.ids, id)
}

func (r *localRepo) remove(ctx context.Context, blob []byte) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, id := range r.ids {
		if b, err := id.publicKeyBlob(ctx); err == nil && string(b) == string(blob) {
			r.ids = slices.Delete(r.ids, i, i+1)
			return true, id.clear(ctx)
		}
	}
	return false, nil
}

// removeNamed removes the identities called name, or id itself.
func (r *localRepo) removeWhere(ctx context.Context, match func(identity) bool) (int, error) {
	r.mu.Lock()
	var gone []identity
	r.ids = slices.DeleteFunc(r.ids, func(id identity) bool {
		if match(id) {
			gone = append(gone, id)
			return true
		}
		return false
	})
	r.mu.Unlock()
	var errs []error
	for _, id := range gone {
		errs = append(errs, id.clear(ctx))
	}
	return len(gone), errors.Join(errs...)
}

func (r *localRepo) removeAll(ctx context.Context) error {
	_, err := r.removeWhere(ctx, func(identity) bool { return true })
	return err
}

// bbIdentityRepo is an identity repository implemented in the script.
type bbIdentityRepo struct {
	*bbObject
	a *API
}

func (r *bbIdentityRepo) repoName(ctx context.Context) (string, error) {
	return r.invokeString(ctx, "get-name")
}
func (r *bbIdentityRepo) status(ctx context.Context) (any, error) { return r.invoke(ctx, "get-status") }
func (r *bbIdentityRepo) identities(ctx context.Context) ([]identity, error) {
	v, err := r.invoke(ctx, "get-identities")
	if err != nil || v == nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the identity-repository's :get-identities returned %s, not identities", pod.Describe(v))
	}
	out := make([]identity, 0, len(list))
	for _, h := range list {
		id, err := r.a.identity(h)
		if err != nil {
			return nil, fmt.Errorf("the identity-repository's :get-identities: %w", err)
		}
		out = append(out, id)
	}
	return out, nil
}
func (r *bbIdentityRepo) add(ctx context.Context, key []byte) (bool, error) {
	return truthyResult(r.invoke(ctx, "add", b64(key)))
}
func (r *bbIdentityRepo) remove(ctx context.Context, blob []byte) (bool, error) {
	return truthyResult(r.invoke(ctx, "remove", b64(blob)))
}
func (r *bbIdentityRepo) removeAll(ctx context.Context) error {
	_, err := r.invoke(ctx, "remove-all")
	return err
}

func (a *API) identity(v any) (identity, error) {
	obj, err := a.reg.Get("identity", v)
	if err != nil {
		return nil, err
	}
	return obj.(identity), nil
}

func (a *API) identityRepo(v any) (identityRepo, error) {
	obj, err := a.reg.Get("identity-repository", v)
	if err != nil {
		return nil, err
	}
	return obj.(identityRepo), nil
}

// identitySource offers a repository's identities to the engine.
type identitySource struct{ repo identityRepo }

func (s identitySource) Signers(ctx context.Context, passphrase func(string) ([]byte, error)) ([]ssh.Signer, []string, error) {
	ids, err := s.repo.identities(ctx)
	if err != nil {
		return nil, nil, err
	}
	var signers []ssh.Signer
	var notes []string
	for _, id := range ids {
		name, err := id.name(ctx)
		if err != nil {
			notes = append(notes, err.Error())
			continue
		}
		if name == "" {
			name = "an identity of the repository"
		}
		enc, err := id.isEncrypted(ctx)
		if err != nil {
			notes = append(notes, fmt.Sprintf("identity %s: %v", name, err))
			continue
		}
		if enc {
			p, err := passphrase(name)
			if err == nil {
				var ok bool
				if ok, err = id.setPassphrase(ctx, p); err == nil && !ok {
					err = errors.New("the passphrase did not decrypt it")
				}
			}
			if err != nil {
				notes = append(notes, fmt.Sprintf("identity %s: %v", name, err))
				continue
			}
		}
		blob, err := id.publicKeyBlob(ctx)
		if err == nil && blob == nil {
			err = errors.New("it has no public key blob")
		}
		var pub ssh.PublicKey
		if err == nil {
			pub, err = ssh.ParsePublicKey(blob)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("identity %s: %v", name, err))
			continue
		}
		signers = append(signers, &identitySigner{ctx: ctx, id: id, name: name, pub: pub})
	}
	return signers, notes, nil
}

// identitySigner signs through an identity during auth.
type identitySigner struct {
	ctx  context.Context
	id   identity
	name string
	pub  ssh.PublicKey
}

func (s *identitySigner) PublicKey() ssh.PublicKey { return s.pub }

func (s *identitySigner) Sign(r io.Reader, data []byte) (*ssh.Signature, error) {
	return s.SignWithAlgorithm(r, data, "")
}

func (s *identitySigner) SignWithAlgorithm(_ io.Reader, data []byte, alg string) (*ssh.Signature, error) {
	blob, err := s.id.sign(s.ctx, data, alg)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", s.name, err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(blob, &sig); err != nil {
		return nil, fmt.Errorf("identity %s: its signature is not an SSH signature blob: %w", s.name, err)
	}
	if alg != "" && sig.Format != alg {
		return nil, fmt.Errorf("identity %s: asked for a %s signature, got %s", s.name, alg, sig.Format)
	}
	return &sig, nil
}

// Algorithms offers the SHA-2 RSA signatures before SHA-1, as OpenSSH.
func (s *identitySigner) Algorithms() []string {
	if s.pub.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{s.pub.Type()}
}

var identityMethods = []string{"get-public-key-blob", "get-signature", "get-alg-name", "get-name", "is-encrypted", "set-passphrase", "clear"}
var identityRepoMethods = []string{"get-name", "get-status", "get-identities", "add", "remove", "remove-all"}

func (a *API) registerIdentity(idNS, repoNS *pod.Namespace) {
	idNS.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc: "Creates an identity whose methods (:get-public-key-blob :get-signature :get-alg-name :get-name :is-encrypted :set-passphrase :clear) " +
			"are the client's functions: sends {:result handle}, then {:method :id :args} questions until released. E.g. (new [:get-public-key-blob :get-signature])",
		Arglists: []string{"[method-names]"},
		Stream:   a.bbObjectVar("identity", identityMethods, func(o *bbObject) any { return &bbIdentity{o} })})
	idFn := func(name, doc string, arglists []string, min, max int, f func(c *pod.Call, id identity) (any, error)) {
		idNS.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				id, err := a.identity(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				v, err := f(c, id)
				return v, engineError(err)
			}})
	}
	idFn("get-public-key-blob", "The identity's public key blob, as base64. E.g. (get-public-key-blob id) ;; => \"AAAAC3NzaC1l...\"", []string{"[identity]"}, 1, 1,
		func(c *pod.Call, id identity) (any, error) {
			blob, err := id.publicKeyBlob(c.Ctx)
			if err != nil || blob == nil {
				return nil, err
			}
			return b64(blob), nil
		})
	idFn("get-signature", "Signs data (base64) with the identity; returns the SSH signature blob as base64. E.g. (get-signature id \"AAEC\" \"rsa-sha2-512\")",
		[]string{"[identity data-b64]", "[identity data-b64 algorithm]"}, 2, 3,
		func(c *pod.Call, id identity) (any, error) {
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			alg, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			sig, err := id.sign(c.Ctx, data, alg)
			if err != nil || sig == nil {
				return nil, err
			}
			return b64(sig), nil
		})
	idFn("get-alg-name", "The identity's key algorithm. E.g. (get-alg-name id) ;; => \"ssh-ed25519\"", []string{"[identity]"}, 1, 1,
		func(c *pod.Call, id identity) (any, error) { return orNil(id.algName(c.Ctx)) })
	idFn("get-name", "The identity's name (a key file, an agent key's comment). E.g. (get-name id) ;; => \"/home/me/.ssh/id_ed25519\"", []string{"[identity]"}, 1, 1,
		func(c *pod.Call, id identity) (any, error) { return orNil(id.name(c.Ctx)) })
	idFn("is-encrypted", "True while the identity's key is encrypted. E.g. (is-encrypted id) ;; => false", []string{"[identity]"}, 1, 1,
		func(c *pod.Call, id identity) (any, error) { return id.isEncrypted(c.Ctx) })
	idFn("set-passphrase", "Decrypts the identity's key with a passphrase (base64); true when usable. E.g. (set-passphrase id \"c2VjcmV0\") ;; => true", []string{"[identity passphrase-b64]"}, 2, 2,
		func(c *pod.Call, id identity) (any, error) {
			p, err := optBytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			return id.setPassphrase(c.Ctx, p)
		})
	idFn("clear", "Forgets the identity's private key. E.g. (clear id)", []string{"[identity]"}, 1, 1,
		func(c *pod.Call, id identity) (any, error) { return nil, id.clear(c.Ctx) })

	repoNS.Add(&pod.Var{Name: "new", MinArgs: 1, MaxArgs: 1,
		Doc: "Creates an identity repository whose methods (:get-name :get-status :get-identities :add :remove :remove-all) " +
			"are the client's functions: sends {:result handle}, then {:method :id :args} questions until released. E.g. (new [:get-identities])",
		Arglists: []string{"[method-names]"},
		Stream: a.bbObjectVar("identity-repository", identityRepoMethods, func(o *bbObject) any {
			o.what = "identity-repository"
			return &bbIdentityRepo{bbObject: o, a: a}
		})})
	repoFn := func(name, doc string, arglists []string, min, max int, f func(c *pod.Call, r identityRepo) (any, error)) {
		repoNS.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: arglists,
			Fn: func(c *pod.Call) (any, error) {
				r, err := a.identityRepo(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				v, err := f(c, r)
				return v, engineError(err)
			}})
	}
	repoFn("get-name", "The repository's name. E.g. (get-name repo) ;; => \"ssh-agent\"", []string{"[identity-repository]"}, 1, 1,
		func(c *pod.Call, r identityRepo) (any, error) { return orNil(r.repoName(c.Ctx)) })
	repoFn("get-status", "The repository's status: :running, :not-running or :unavailable. E.g. (get-status repo) ;; => :running", []string{"[identity-repository]"}, 1, 1,
		func(c *pod.Call, r identityRepo) (any, error) { return r.status(c.Ctx) })
	repoFn("get-identities", "The repository's identities, as handles. E.g. (get-identities repo) ;; => [:bbssh/identity-7]", []string{"[identity-repository]"}, 1, 1,
		func(c *pod.Call, r identityRepo) (any, error) {
			ids, err := r.identities(c.Ctx)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(ids))
			for i, id := range ids {
				out[i] = a.reg.Put("identity", id)
			}
			return out, nil
		})
	repoFn("add", "Adds a private key (its file's contents, base64); true when added. E.g. (add repo \"LS0tLS1CRUdJTi...\") ;; => true", []string{"[identity-repository key-b64]"}, 2, 2,
		func(c *pod.Call, r identityRepo) (any, error) {
			key, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			return r.add(c.Ctx, key)
		})
	repoFn("remove", "Removes the identity with this public key blob (base64); true when removed. E.g. (remove repo \"AAAAC3NzaC1l...\") ;; => true", []string{"[identity-repository blob-b64]"}, 2, 2,
		func(c *pod.Call, r identityRepo) (any, error) {
			blob, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			return r.remove(c.Ctx, blob)
		})
	repoFn("remove-all", "Removes every identity. E.g. (remove-all repo)", []string{"[identity-repository]"}, 1, 1,
		func(c *pod.Call, r identityRepo) (any, error) { return nil, r.removeAll(c.Ctx) })
}
