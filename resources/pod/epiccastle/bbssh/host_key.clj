(ns pod.epiccastle.bbssh.host-key
  "Host keys: the entries of a known_hosts database (see
  `pod.epiccastle.bbssh.host-key-repository`). A host key is a handle such
  as `:bbssh/host-key-2`.

    (def hk (host-key/new \"example.com\" key-bytes))
    (host-key/get-info hk nil) ;; => {:host \"example.com\" :type \"ssh-ed25519\" ...}"
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.host-key :as pod-hk]))

(def types
  "The key type keywords `new` takes; `:guess` (and `:unknown`) take the
  type from the key.

    (contains? host-key/types :ed25519) ;; => true"
  #{:unknown :guess :sshdss :sshrsa :ecdsa256 :ecdsa384 :ecdsa521 :ed25519 :ed448})

(defn- make [marker host type key comment]
  (cleaner/register (pod-hk/new marker host type (utils/encode-base64 (utils/->bytes key "UTF-8")) comment)))

(defn new
  "Makes a host key for `host` (known_hosts host patterns, such as
  \"example.com\", \"[10.0.0.1]:2222\" or \"a,b\") from the key blob
  `key` (bytes in SSH wire format). `type` is one of `types` [`:guess`];
  a type that contradicts the key throws. `marker` is \"\",
  \"@revoked\" or \"@cert-authority\".

    (host-key/new \"example.com\" key-bytes)
    (host-key/new \"example.com\" :ed25519 key-bytes \"added by hand\")
    (host-key/new \"@revoked\" \"*\" :guess key-bytes \"\")"
  ([host key] (make "" host :guess key ""))
  ([host type key] (make "" host type key ""))
  ([host type key comment] (make "" host type key comment))
  ([marker host type key comment] (make marker host type key comment)))

(defn get-info
  "The host key's fields: `{:host :type :key :finger-print :comment
  :marker}`, `:key` as base64, `:finger-print` the SHA-256 as
  colon-separated hex (as bbssh 0.6). `agent` is kept for 0.6
  compatibility and may be nil.

    (host-key/get-info hk nil)
    ;; => {:host \"example.com\" :type \"ssh-ed25519\" :key \"AAAA...\"
    ;;     :finger-print \"3f:09:...\" :comment \"\" :marker \"\"}"
  ([host-key] (get-info host-key nil))
  ([host-key _agent] (pod-hk/get-info host-key)))

(defn get-infos
  "`get-info` of each host key, as a map from handle to info.

    (host-key/get-infos (host-key-repository/get-host-key repo) nil)"
  ([host-keys] (get-infos host-keys nil))
  ([host-keys agent]
   (into {} (map (juxt identity #(get-info % agent))) host-keys)))

(defn get-host
  "The host patterns, as written in known_hosts.

    (host-key/get-host hk) ;; => \"example.com\""
  [host-key]
  (:host (get-info host-key)))

(defn get-type
  "The key type, such as \"ssh-ed25519\", \"ssh-rsa\",
  \"ecdsa-sha2-nistp256\".

    (host-key/get-type hk) ;; => \"ssh-ed25519\""
  [host-key]
  (:type (get-info host-key)))

(defn get-key
  "The key blob as base64 (as in known_hosts).

    (host-key/get-key hk) ;; => \"AAAAC3NzaC1lZDI1NTE5...\""
  [host-key]
  (:key (get-info host-key)))

(defn get-finger-print
  "The SHA-256 fingerprint as colon-separated lower-case hex, without the
  \"SHA256:\" prefix (as bbssh 0.6). `agent` may be nil.

    (host-key/get-finger-print hk nil) ;; => \"3f:09:9c:...\""
  ([host-key] (get-finger-print host-key nil))
  ([host-key agent] (:finger-print (get-info host-key agent))))

(defn get-comment
  "The comment after the key, \"\" when none.

    (host-key/get-comment hk) ;; => \"added by hand\""
  [host-key]
  (:comment (get-info host-key)))

(defn get-marker
  "The marker: \"\", \"@revoked\" or \"@cert-authority\".

    (host-key/get-marker hk) ;; => \"\""
  [host-key]
  (:marker (get-info host-key)))
