package api

import (
	"encoding/base64"

	"bbssh/bbssh"
	"bbssh/pod"
)

// Key pairs (pod.epiccastle.bbssh.key-pair): keys generated or loaded in
// the pod, kept behind handles, that scripts sign with, fingerprint and
// write to files. Bytes travel as base64.

func (a *API) keyPair(v any) (*bbssh.KeyPair, error) {
	obj, err := a.reg.Get("key-pair", v)
	if err != nil {
		return nil, err
	}
	return obj.(*bbssh.KeyPair), nil
}

// optBytesArg reads argument i as base64 bytes, nil staying nil.
func optBytesArg(c *pod.Call, i int) ([]byte, error) {
	if c.Args.Get(i) == nil {
		return nil, nil
	}
	return bytesArg(c, i)
}

// optStringArg reads argument i as a string, nil giving "".
func optStringArg(c *pod.Call, i int) (string, error) {
	if c.Args.Get(i) == nil {
		return "", nil
	}
	return c.Args.String(i)
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// keyPairFn is a var of one key pair and maybe more arguments.
func (a *API) keyPairFn(f func(c *pod.Call, kp *bbssh.KeyPair) (any, error)) pod.Func {
	return func(c *pod.Call) (any, error) {
		kp, err := a.keyPair(c.Args.Get(0))
		if err != nil {
			return nil, err
		}
		v, err := f(c, kp)
		return v, engineError(err)
	}
}

func (a *API) registerKeyPair(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "generate", MinArgs: 1, MaxArgs: 2,
		Doc:      "Generates a key pair: type :rsa, :ecdsa or :ed25519 (:dsa and :ed448 throw :bbssh/unsupported); size the RSA bits [2048] or ECDSA curve [256]. E.g. (generate :ed25519 nil) ;; => :bbssh/key-pair-4",
		Arglists: []string{"[key-type]", "[key-type key-size]"},
		Fn: func(c *pod.Call) (any, error) {
			typ, err := pod.AsKeyword("key type", c.Args.Get(0))
			if err != nil {
				if typ, err = pod.AsString("key type", c.Args.Get(0)); err != nil {
					return nil, badOption("key type must be :rsa, :ecdsa or :ed25519, got %s", pod.Describe(c.Args.Get(0)))
				}
			}
			var bits int64
			if c.Args.Get(1) != nil {
				if bits, err = c.Args.Int(1); err != nil {
					return nil, err
				}
			}
			if bits < 0 || bits > 1<<20 {
				return nil, badOption("key size %d is out of range", bits)
			}
			kp, err := bbssh.GenerateKeyPair(typ, int(bits))
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("key-pair", kp), nil
		}})
	ns.Add(&pod.Var{Name: "load", MinArgs: 1, MaxArgs: 2,
		Doc:      "Loads a key pair from a private key file and its public key file [private + \".pub\", when it exists]. E.g. (load \"/home/me/.ssh/id_ed25519\" nil)",
		Arglists: []string{"[private-file]", "[private-file public-file]"},
		Fn: func(c *pod.Call) (any, error) {
			priv, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			pub, err := optStringArg(c, 1)
			if err != nil {
				return nil, err
			}
			kp, err := bbssh.LoadKeyPairFiles(priv, pub)
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("key-pair", kp), nil
		}})
	ns.Add(&pod.Var{Name: "load-bytes", MinArgs: 2, MaxArgs: 2,
		Doc:      "Makes a key pair from the base64 of a private key file and of a public key (line or blob); either may be nil. E.g. (load-bytes nil \"c3NoLWVkMjU1MTkgQUFBQS4uLg==\")",
		Arglists: []string{"[private-b64 public-b64]"},
		Fn: func(c *pod.Call) (any, error) {
			priv, err := optBytesArg(c, 0)
			if err != nil {
				return nil, err
			}
			pub, err := optBytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			kp, err := bbssh.LoadKeyPair(priv, pub)
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("key-pair", kp), nil
		}})
	ns.Add(&pod.Var{Name: "set-passphrase", MinArgs: 2, MaxArgs: 2,
		Doc:      "Sets the passphrase write-private-key encrypts with (base64; nil or empty: none). E.g. (set-passphrase kp \"c2VjcmV0\")",
		Arglists: []string{"[key-pair passphrase-b64]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			pass, err := optBytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			kp.SetPassphrase(pass)
			return nil, nil
		})})
	ns.Add(&pod.Var{Name: "decrypt", MinArgs: 2, MaxArgs: 2,
		Doc:      "Decrypts an encrypted private key with the passphrase (base64); true when the key is now usable. E.g. (decrypt kp \"c2VjcmV0\") ;; => true",
		Arglists: []string{"[key-pair passphrase-b64]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			pass, err := optBytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			return kp.Decrypt(pass), nil
		})})
	ns.Add(&pod.Var{Name: "is-encrypted", MinArgs: 1, MaxArgs: 1,
		Doc:      "True while the private key is encrypted. E.g. (is-encrypted kp) ;; => false",
		Arglists: []string{"[key-pair]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			return kp.IsEncrypted(), nil
		})})
	ns.Add(&pod.Var{Name: "write-private-key", MinArgs: 2, MaxArgs: 3,
		Doc:      "Writes the private key in OpenSSH format (mode 0600), encrypted with the passphrase (base64) or the one set-passphrase set. E.g. (write-private-key kp \"/tmp/id\" nil)",
		Arglists: []string{"[key-pair file]", "[key-pair file passphrase-b64]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			file, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			pass, err := optBytesArg(c, 2)
			if err != nil {
				return nil, err
			}
			return nil, kp.WritePrivateKey(file, pass)
		})})
	ns.Add(&pod.Var{Name: "write-public-key", MinArgs: 3, MaxArgs: 3,
		Doc:      "Writes the public key as an authorized_keys line with a comment. E.g. (write-public-key kp \"/tmp/id.pub\" \"me@host\")",
		Arglists: []string{"[key-pair file comment]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			file, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			comment, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			return nil, kp.WritePublicKey(file, comment)
		})})
	ns.Add(&pod.Var{Name: "get-finger-print", MinArgs: 1, MaxArgs: 1,
		Doc:      "The MD5 fingerprint as colon-separated hex, as bbssh 0.6 gave it. E.g. (get-finger-print kp) ;; => \"e6:a0:ce:...\"",
		Arglists: []string{"[key-pair]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			return kp.FingerprintMD5()
		})})
	ns.Add(&pod.Var{Name: "get-public-key-blob", MinArgs: 1, MaxArgs: 1,
		Doc:      "The public key in SSH wire format, as base64. E.g. (get-public-key-blob kp) ;; => \"AAAAC3NzaC1lZDI1NTE5...\"",
		Arglists: []string{"[key-pair]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			blob, err := kp.PublicKeyBlob()
			if err != nil {
				return nil, err
			}
			return b64(blob), nil
		})})
	ns.Add(&pod.Var{Name: "get-key-size", MinArgs: 1, MaxArgs: 1,
		Doc:      "The key size: RSA bits, ECDSA curve bits, 32 for Ed25519. E.g. (get-key-size kp) ;; => 256",
		Arglists: []string{"[key-pair]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			return kp.KeySize()
		})})
	ns.Add(&pod.Var{Name: "get-signature", MinArgs: 2, MaxArgs: 3,
		Doc:      "Signs data (base64) and returns the SSH signature blob (base64); algorithm such as \"rsa-sha2-512\" [the key type's own]. E.g. (get-signature kp \"AAEC\" \"rsa-sha2-256\")",
		Arglists: []string{"[key-pair data-b64]", "[key-pair data-b64 algorithm]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			alg, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			sig, err := kp.Sign(data, alg)
			if err != nil {
				return nil, err
			}
			return b64(sig), nil
		})})
	ns.Add(&pod.Var{Name: "dispose", MinArgs: 1, MaxArgs: 1,
		Doc:      "Forgets the private key; the public half stays usable. E.g. (dispose kp)",
		Arglists: []string{"[key-pair]"},
		Fn: a.keyPairFn(func(c *pod.Call, kp *bbssh.KeyPair) (any, error) {
			kp.Dispose()
			return nil, nil
		})})
}

// hostKeyTypes maps bbssh 0.6's host-key type keywords to key types; ""
// means take the type from the key.
var hostKeyTypes = map[string]string{
	"guess": "", "unknown": "", "sshdss": "ssh-dss", "sshrsa": "ssh-rsa",
	"ecdsa256": "ecdsa-sha2-nistp256", "ecdsa384": "ecdsa-sha2-nistp384", "ecdsa521": "ecdsa-sha2-nistp521",
	"ed25519": "ssh-ed25519", "ed448": "ssh-ed448",
}

// hostKeyType reads a type keyword (or a key type name as a string).
func hostKeyType(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	name, err := pod.AsKeyword("host key type", v)
	if err == nil {
		if t, ok := hostKeyTypes[name]; ok {
			return t, nil
		}
	}
	return "", badOption("host key type must be one of :guess :sshdss :sshrsa :ecdsa256 :ecdsa384 :ecdsa521 :ed25519 :ed448, got %s", pod.Describe(v))
}

func (a *API) hostKey(v any) (*bbssh.HostKey, error) {
	obj, err := a.reg.Get("host-key", v)
	if err != nil {
		return nil, err
	}
	return obj.(*bbssh.HostKey), nil
}

// hostKeyInfo is host-key/get-info's map.
func hostKeyInfo(hk *bbssh.HostKey) map[any]any {
	return map[any]any{kw("host"): hk.Host, kw("type"): hk.Type, kw("key"): b64(hk.Key),
		kw("finger-print"): hk.FingerprintHex(), kw("comment"): hk.Comment, kw("marker"): hk.Marker}
}

func (a *API) registerHostKey(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 5, MaxArgs: 5,
		Doc:      "Makes a host key (a known_hosts entry): marker (\"\", \"@revoked\", \"@cert-authority\"), host patterns, type keyword (nil: from the key), key blob (base64), comment. E.g. (new \"\" \"example.com\" nil \"AAAAC3NzaC1lZDI1NTE5...\" \"\")",
		Arglists: []string{"[marker host type key-b64 comment]"},
		Fn: func(c *pod.Call) (any, error) {
			marker, err := optStringArg(c, 0)
			if err != nil {
				return nil, err
			}
			host, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			typ, err := hostKeyType(c.Args.Get(2))
			if err != nil {
				return nil, err
			}
			key, err := bytesArg(c, 3)
			if err != nil {
				return nil, err
			}
			comment, err := optStringArg(c, 4)
			if err != nil {
				return nil, err
			}
			hk, err := bbssh.NewHostKey(marker, host, typ, key, comment)
			if err != nil {
				return nil, engineError(err)
			}
			return a.reg.Put("host-key", hk), nil
		}})
	ns.Add(&pod.Var{Name: "get-info", MinArgs: 1, MaxArgs: 1,
		Doc:      "A host key's fields: {:host :type :key (base64) :finger-print (SHA-256 hex) :comment :marker}. E.g. (get-info hk) ;; => {:host \"example.com\" :type \"ssh-ed25519\" ...}",
		Arglists: []string{"[host-key]"},
		Fn: func(c *pod.Call) (any, error) {
			hk, err := a.hostKey(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return hostKeyInfo(hk), nil
		}})
}
