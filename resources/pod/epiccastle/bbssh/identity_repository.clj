(ns pod.epiccastle.bbssh.identity-repository
  "Identity repositories: the lists of identities sessions offer. `new`
  makes one implemented in the script; the other functions work on any
  repository: an agent's own (`agent/get-identity-repository`), an
  ssh-agent's (`ssh-agent/new-identity-repository`) or the script's.

    (def repo (identity-repository/new {:get-identities (fn [] [my-identity])}))
    (agent/set-identity-repository agent repo)"
  (:refer-clojure :exclude [remove])
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.callbacks :as cb]
            [pod.epiccastle.bbssh.pod.identity-repository :as pod-repo]))

;; A namespace the pod client created before this code ran already refers
;; clojure.core/remove; :exclude alone does not take it back.
(ns-unmap *ns* 'remove)

(def ^:private known
  #{:get-name :get-status :get-identities :add :remove :remove-all})

(defn- decode-first [[b64]] [(utils/decode-base64 b64)])

(defn new
  "Makes an identity repository from a map of functions, all optional:
  - `:get-name (fn [])` its name
  - `:get-status (fn [])` `:running`, `:not-running` or `:unavailable`
  - `:get-identities (fn [])` a sequence of identity handles
    (`pod.epiccastle.bbssh.identity/new`, or any other identity)
  - `:add (fn [private-key-bytes])` adds a key (agent/add-identity sends
    the key file's contents, OpenSSH format); truthy when added
  - `:remove (fn [public-key-blob])` truthy when removed
  - `:remove-all (fn [])` (bbssh 0.6's docstring spelled it `:removeAll`,
    which is accepted too)

    (identity-repository/new {:get-name (constantly \"vault\")
                              :get-identities (fn [] [id])})"
  [callbacks]
  (let [callbacks (if (and (map? callbacks) (contains? callbacks :removeAll))
                    (-> callbacks (dissoc :removeAll) (assoc :remove-all (:removeAll callbacks)))
                    callbacks)]
    (cb/new-object 'pod.epiccastle.bbssh.pod.identity-repository/new "identity-repository" known callbacks
                   {:pre {:add decode-first :remove decode-first}
                    :post {:get-identities vec :add boolean :remove boolean :remove-all (constantly nil)}})))

(defn get-name
  "The repository's name.

    (identity-repository/get-name repo) ;; => \"ssh-agent\""
  [repository]
  (pod-repo/get-name repository))

(defn get-status
  "The repository's status: `:running`, `:not-running` or `:unavailable`.

    (identity-repository/get-status repo) ;; => :running"
  [repository]
  (pod-repo/get-status repository))

(defn get-identities
  "The repository's identities, as handles (see
  `pod.epiccastle.bbssh.identity`).

    (map identity/get-name (identity-repository/get-identities repo))"
  [repository]
  (mapv cleaner/register (pod-repo/get-identities repository)))

(defn add
  "Adds a private key (its file's contents, a string or bytes; decrypted);
  true when added.

    (identity-repository/add repo (slurp \"id_ed25519\")) ;; => true"
  [repository private-key]
  (true? (pod-repo/add repository (utils/encode-base64 (utils/->bytes private-key "UTF-8")))))

(defn remove
  "Removes the identity whose public key blob (bytes) is given; true when
  removed.

    (identity-repository/remove repo (key-pair/get-public-key-blob kp)) ;; => true"
  [repository public-key-blob]
  (true? (pod-repo/remove repository (utils/encode-base64 public-key-blob))))

(defn remove-all
  "Removes every identity of the repository.

    (identity-repository/remove-all repo)"
  [repository]
  (pod-repo/remove-all repository)
  nil)
