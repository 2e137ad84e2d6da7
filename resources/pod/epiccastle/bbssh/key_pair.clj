(ns pod.epiccastle.bbssh.key-pair
  "SSH key pairs: generate or load keys, sign with them, show their
  fingerprint and size, and write them in OpenSSH's formats. A key pair is
  a handle such as `:bbssh/key-pair-3`.

    (def kp (key-pair/generate agent :ed25519))
    (key-pair/write-private-key kp \"/tmp/id_ed25519\")
    (key-pair/write-public-key kp \"/tmp/id_ed25519.pub\" \"me@laptop\")

  The `agent` argument of `generate`, `load` and `load-bytes` is kept for
  bbssh 0.6 compatibility and may be nil."
  (:refer-clojure :exclude [load])
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.key-pair :as pod-kp]))

;; A namespace the pod client created before this code ran already refers
;; clojure.core/load; :exclude alone does not take it back.
(ns-unmap *ns* 'load)

(defn- b64-or-nil
  "The base64 of a string (UTF-8) or byte array; nil stays nil."
  [x]
  (when (some? x) (utils/encode-base64 (utils/->bytes x "UTF-8"))))

(defn generate
  "Generates a new key pair. `key-type` is `:rsa`, `:ecdsa` or `:ed25519`
  (`:dsa` and `:ed448` throw `:bbssh/unsupported`). `key-size` is the RSA
  modulus in bits [2048] or the ECDSA curve size (256, 384, 521) [256];
  Ed25519 ignores it.

    (key-pair/generate nil :rsa 4096)
    (key-pair/get-key-size (key-pair/generate nil :ecdsa 384)) ;; => 384"
  ([agent key-type] (generate agent key-type nil))
  ([_agent key-type key-size]
   (cleaner/register (pod-kp/generate key-type key-size))))

(defn load
  "Loads a key pair from a private key file (OpenSSH or PEM format, maybe
  encrypted) and its public key file [`private-file` + \".pub\", used when
  it exists].

    (key-pair/load nil \"/home/me/.ssh/id_ed25519\")"
  ([agent private-file] (load agent private-file nil))
  ([_agent private-file public-file]
   (cleaner/register (pod-kp/load (str private-file) (some-> public-file str)))))

(defn load-bytes
  "Makes a key pair from the contents of a private key file and of a public
  key (an authorized_keys line or the wire-format blob), each a string or
  bytes. Either may be nil: a public half alone still gives the
  fingerprint, size and blob.

    (key-pair/load-bytes nil (slurp \"id_ed25519\") (slurp \"id_ed25519.pub\"))
    (key-pair/load-bytes nil nil (slurp \"id_ed25519.pub\"))"
  [_agent private-key public-key]
  (cleaner/register (pod-kp/load-bytes (b64-or-nil private-key) (b64-or-nil public-key))))

(defn set-passphrase
  "Sets the passphrase `write-private-key` encrypts the key with when given
  none (a string or bytes; nil or \"\" writes it unencrypted).

    (key-pair/set-passphrase kp \"correct horse\")"
  [key-pair passphrase]
  (pod-kp/set-passphrase key-pair (b64-or-nil passphrase))
  nil)

(defn decrypt
  "Decrypts an encrypted private key with `passphrase` (bytes or a string).
  Returns true when the key is now usable, false for a wrong passphrase.

    (key-pair/decrypt kp (.getBytes \"correct horse\"))  ;; => true"
  [key-pair passphrase]
  (true? (pod-kp/decrypt key-pair (b64-or-nil passphrase))))

(defn is-encrypted
  "True while the private key is encrypted (before `decrypt`).

    (key-pair/is-encrypted kp) ;; => false"
  [key-pair]
  (true? (pod-kp/is-encrypted key-pair)))

(defn write-private-key
  "Writes the private key to `filename` in OpenSSH format, mode 0600,
  encrypted (bcrypt + aes256-ctr, as ssh-keygen) with `passphrase` (bytes
  or a string) or else the one `set-passphrase` set. A key still encrypted
  is written as it was read.

    (key-pair/write-private-key kp \"/tmp/id_ed25519\")
    (key-pair/write-private-key kp \"/tmp/id_ed25519\" (.getBytes \"secret\"))"
  ([key-pair filename] (write-private-key key-pair filename nil))
  ([key-pair filename passphrase]
   (pod-kp/write-private-key key-pair (str filename) (b64-or-nil passphrase))
   nil))

(defn write-public-key
  "Writes the public key to `filename` as an authorized_keys line ending
  with `comment`.

    (key-pair/write-public-key kp \"/tmp/id_ed25519.pub\" \"me@laptop\")"
  [key-pair filename comment]
  (pod-kp/write-public-key key-pair (str filename) comment)
  nil)

(defn get-finger-print
  "The key's MD5 fingerprint as colon-separated hex, as bbssh 0.6 gave it
  (`ssh-keygen -l -E md5` shows the same after \"MD5:\").

    (key-pair/get-finger-print kp) ;; => \"e6:a0:ce:eb:...\""
  [key-pair]
  (pod-kp/get-finger-print key-pair))

(defn get-public-key-blob
  "The public key in SSH wire format, as bytes.

    (seq (key-pair/get-public-key-blob kp)) ;; => (0 0 0 11 115 115 104 ...)"
  [key-pair]
  (utils/decode-base64 (pod-kp/get-public-key-blob key-pair)))

(defn get-key-size
  "The key size: RSA modulus bits, ECDSA curve bits, 32 for Ed25519.

    (key-pair/get-key-size kp) ;; => 2048"
  [key-pair]
  (pod-kp/get-key-size key-pair))

(defn get-signature
  "Signs `data` (bytes or a string) and returns the SSH signature blob
  (string algorithm, string signature) as bytes, as publickey
  authentication sends it. `algorithm` chooses the RSA hash:
  \"rsa-sha2-256\", \"rsa-sha2-512\" or \"ssh-rsa\" (SHA-1, the default for
  RSA keys, as in bbssh 0.6).

    (key-pair/get-signature kp (.getBytes \"hello\"))
    (key-pair/get-signature kp (.getBytes \"hello\") \"rsa-sha2-512\")"
  ([key-pair data] (get-signature key-pair data nil))
  ([key-pair data algorithm]
   (utils/decode-base64 (pod-kp/get-signature key-pair (b64-or-nil data) algorithm))))

(defn dispose
  "Forgets the private key; the public half stays usable. Release the
  handle itself with `pod.epiccastle.bbssh.pod.registry/release`.

    (key-pair/dispose kp)"
  [key-pair]
  (pod-kp/dispose key-pair)
  nil)
