(ns pod.epiccastle.bbssh.identity
  "Identities: keys a session offers in publickey auth. `new` makes one
  whose key lives in the script (a hardware token, a vault, a key-pair
  handle); the pod calls its functions to sign while it logs in. The
  other functions work on any identity: the script's, an agent's
  (`agent/get-identity-repository` + `identity-repository/get-identities`)
  or an ssh-agent's (`pod.epiccastle.bbssh.ssh-agent`).

    (def id (identity/new {:get-public-key-blob #(key-pair/get-public-key-blob kp)
                           :get-signature (fn [data alg] (key-pair/get-signature kp data alg))
                           :get-name (constantly \"my key\")}))"
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.callbacks :as cb]
            [pod.epiccastle.bbssh.pod.identity :as pod-identity]))

(def ^:private known
  #{:get-public-key-blob :get-signature :get-alg-name :get-name :is-encrypted :set-passphrase :clear})

(defn- bytes->b64 [x]
  (when (some? x) (utils/encode-base64 (utils/->bytes x "UTF-8"))))

(defn- signature-fn
  "Calls the script's :get-signature with the algorithm when it takes
  two arguments, else with the data alone (bbssh 0.6 called the one-argument
  form for non-RSA keys)."
  [f]
  (fn [data & [alg]]
    (if alg
      (try (f data alg)
           (catch clojure.lang.ArityException _ (f data)))
      (f data))))

(defn new
  "Makes an identity from a map of functions, all optional:
  - `:get-public-key-blob (fn [])` the public key in SSH wire format (bytes)
  - `:get-signature (fn [data] ...)` or `(fn [data algorithm] ...)` the SSH
    signature blob (bytes: string algorithm, string signature) of `data`;
    `algorithm` is what the server asked for, such as \"rsa-sha2-512\"
  - `:get-alg-name (fn [])` the key type, e.g. \"ssh-ed25519\"
  - `:get-name (fn [])` a name for messages
  - `:is-encrypted (fn [])` truthy while the key needs a passphrase
  - `:set-passphrase (fn [passphrase-bytes])` truthy when it decrypted it
  - `:clear (fn [])` called when the identity is removed

  Returns a handle such as `:bbssh/identity-4`. A function that throws
  fails that step (the login tries its other keys) instead of hanging it.

    (identity/new {:get-public-key-blob #(key-pair/get-public-key-blob kp)
                   :get-signature (fn [data alg] (key-pair/get-signature kp data alg))
                   :get-alg-name (constantly \"ssh-ed25519\")
                   :get-name (constantly \"token\")
                   :is-encrypted (constantly false)})"
  [callbacks]
  (cb/new-object 'pod.epiccastle.bbssh.pod.identity/new "identity" known callbacks
                 {:pre {:get-signature (fn [[data alg]] (cond-> [(utils/decode-base64 data)] alg (conj alg)))
                        :set-passphrase (fn [[p]] [(utils/decode-base64 p)])}
                  :post {:get-public-key-blob bytes->b64
                         :get-signature bytes->b64
                         :is-encrypted boolean
                         :set-passphrase boolean
                         :clear (constantly nil)}
                  :wrap {:get-signature signature-fn}}))

(defn get-public-key-blob
  "The identity's public key in SSH wire format, as bytes.

    (identity/get-public-key-blob id)"
  [identity]
  (utils/decode-base64 (pod-identity/get-public-key-blob identity)))

(defn get-signature
  "Signs `data` (bytes or a string) with the identity; returns the SSH
  signature blob as bytes. `algorithm` such as \"rsa-sha2-512\" [the key
  type's own].

    (identity/get-signature id (.getBytes \"hello\"))"
  ([identity data] (get-signature identity data nil))
  ([identity data algorithm]
   (utils/decode-base64 (pod-identity/get-signature identity (bytes->b64 data) algorithm))))

(defn get-alg-name
  "The identity's key type.

    (identity/get-alg-name id) ;; => \"ssh-ed25519\""
  [identity]
  (pod-identity/get-alg-name identity))

(defn get-name
  "The identity's name: its key file, an ssh-agent key's comment...

    (identity/get-name id) ;; => \"/home/me/.ssh/id_ed25519\""
  [identity]
  (pod-identity/get-name identity))

(defn is-encrypted
  "True while the identity's key needs a passphrase.

    (identity/is-encrypted id) ;; => false"
  [identity]
  (true? (pod-identity/is-encrypted identity)))

(defn set-passphrase
  "Decrypts the identity's key with `passphrase` (bytes or a string); true
  when it is usable.

    (identity/set-passphrase id \"secret\") ;; => true"
  [identity passphrase]
  (true? (pod-identity/set-passphrase identity (bytes->b64 passphrase))))

(defn clear
  "Forgets the identity's private key (what `:clear` does for one of the
  script's).

    (identity/clear id)"
  [identity]
  (pod-identity/clear identity)
  nil)
