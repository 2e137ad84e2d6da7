(ns pod.epiccastle.bbssh.host-key-repository
  "Host key repositories: what sessions check server keys against. The
  functions work on any repository: a known_hosts file or content
  (`agent/get-host-key-repository`, `pod.epiccastle.bbssh.known-hosts`) or
  one implemented in the script with `new`.

    (def repo (agent/get-host-key-repository agent))
    (host-key-repository/check repo \"[10.0.0.1]:2222\" key-bytes) ;; => :ok"
  (:refer-clojure :exclude [remove])
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.callbacks :as cb]
            [pod.epiccastle.bbssh.pod.host-key-repository :as pod-repo]))

;; A namespace the pod client created before this code ran already refers
;; clojure.core/remove; :exclude alone does not take it back.
(ns-unmap *ns* 'remove)

(def ^:private known
  #{:check :add :remove :get-host-key :get-known-hosts-repository-id})

(defn- ->b64 [x] (utils/encode-base64 (utils/->bytes x "UTF-8")))

(defn new
  "Makes a host key repository from a map of functions, all optional:
  - `:check (fn [host key-bytes])` `:ok`, `:not-included`, `:changed`
    (or `:revoked`); `host` reads as in known_hosts, \"[host]:port\" for
    ports other than 22
  - `:add (fn [host-key user-info])` records a key the session's policy
    accepted (a `pod.epiccastle.bbssh.host-key` handle; user-info may be nil)
  - `:remove (fn ([host type]) ([host type key-bytes]))`
  - `:get-host-key (fn ([]) ([host type]))` a sequence of host-key handles
  - `:get-known-hosts-repository-id (fn [])` an id string

  In babashka a multi-arity fn keeps every local of the function it is
  made in: make the repository in a function that does not also hold its
  handle, or the callbacks keep it alive until the pod is unloaded.

    (def seen (atom {}))
    (host-key-repository/new
      {:check (fn [host key] (if (= (seq key) (seq (@seen host))) :ok :not-included))
       :add (fn [hk _] (swap! seen assoc (host-key/get-host hk)
                              (.decode (java.util.Base64/getDecoder) (host-key/get-key hk))))})"
  [callbacks]
  (cb/new-object 'pod.epiccastle.bbssh.pod.host-key-repository/new "host-key-repository" known callbacks
                 {:pre {:check (fn [[host b64]] [host (utils/decode-base64 b64)])
                        ;; the pod made the host key for this call: the script owns it
                        :add (fn [[hk user-info]] [(cleaner/register hk) user-info])
                        :remove (fn [[host type b64]] (cond-> [host type] b64 (conj (utils/decode-base64 b64))))}
                  :post {:get-host-key vec
                         :add (constantly nil)
                         :remove (constantly nil)
                         :get-known-hosts-repository-id #(some-> % str)}}))

(defn check
  "Checks `key` (the blob, bytes) for `host`: `:ok` when known,
  `:changed` when the host is known with another key of that type,
  `:not-included` when not, `:revoked` when a @revoked entry names it.

    (host-key-repository/check repo \"example.com\" key-bytes) ;; => :ok"
  [repository host key]
  (pod-repo/check repository host (->b64 key)))

(defn add
  "Adds a host key (see `pod.epiccastle.bbssh.host-key/new`); `user-info`
  may be nil. A known_hosts file is written at once.

    (host-key-repository/add repo (host-key/new \"example.com\" key-bytes) nil)"
  [repository host-key user-info]
  (pod-repo/add repository host-key user-info)
  nil)

(defn remove
  "Removes `host`'s keys of `type` (such as \"ssh-rsa\"; nil: every type),
  only `key` (bytes) when given. An entry naming several hosts loses only
  `host`.

    (host-key-repository/remove repo \"example.com\" \"ssh-ed25519\")"
  ([repository host type] (pod-repo/remove repository host type nil) nil)
  ([repository host type key] (pod-repo/remove repository host type (some-> key ->b64)) nil))

(defn get-host-key
  "The repository's host keys, or `host`'s of `type` (nil: any), as a
  vector of host-key handles.

    (map host-key/get-info (host-key-repository/get-host-key repo))"
  ([repository] (mapv cleaner/register (pod-repo/get-host-key repository nil nil)))
  ([repository host type] (mapv cleaner/register (pod-repo/get-host-key repository host type))))

(defn get-known-hosts-repository-id
  "The repository's id: a known_hosts file's name, nil for content.

    (host-key-repository/get-known-hosts-repository-id repo) ;; => \"/home/me/.ssh/known_hosts\""
  [repository]
  (pod-repo/get-known-hosts-repository-id repository))
