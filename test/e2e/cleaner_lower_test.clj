;; The handles of the lower-level namespaces (agent, key-pair, host-key,
;; host-key-repository, known-hosts, identity, identity-repository,
;; ssh-agent, config, config-repository) are freed once babashka has
;; garbage-collected their keywords, and never while something in the pod
;; still uses them: a session keeps its agent and the repositories and
;; identities it logs in with, implemented in bb or not.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.cleaner-lower-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.agent :as agent]
         '[pod.epiccastle.bbssh.key-pair :as key-pair]
         '[pod.epiccastle.bbssh.host-key :as host-key]
         '[pod.epiccastle.bbssh.host-key-repository :as hkr]
         '[pod.epiccastle.bbssh.known-hosts :as known-hosts]
         '[pod.epiccastle.bbssh.identity :as identity]
         '[pod.epiccastle.bbssh.identity-repository :as idr]
         '[pod.epiccastle.bbssh.ssh-agent :as ssh-agent]
         '[pod.epiccastle.bbssh.config :as config]
         '[pod.epiccastle.bbssh.config-repository :as config-repository]
         '[pod.epiccastle.bbssh.pod.registry :as registry])

(def identity-file (c/env "BBSSH_TEST_IDENTITY"))
(def known-hosts-file (c/env "BBSSH_TEST_KNOWN_HOSTS"))

(def lower-kinds
  ["agent" "key-pair" "host-key" "host-key-repository" "identity" "identity-repository"
   "config" "config-repository"])

(defn made-since
  "How many live handles of kind were not among before (a set of handles).
  Handles, not counts, are compared: an earlier test's dropped handle may
  be freed meanwhile."
  [before kind]
  (let [re (re-pattern (str "\\Q" kind "\\E-\\d+"))]
    (count (filter #(re-matches re (name %)) (remove before (registry/handles))))))

(defn lower-made-since [before] (reduce + (map #(made-since before %) lower-kinds)))

(defn kp-identity
  "An identity implemented in bb, signing with key pair kp."
  [kp]
  (identity/new {:get-public-key-blob (fn [] (key-pair/get-public-key-blob kp))
                 :get-signature (fn ([data] (key-pair/get-signature kp data))
                                  ([data alg] (key-pair/get-signature kp data alg)))
                 :get-alg-name (fn [] "ssh-ed25519")
                 :get-name (fn [] "key in bb")}))

(defn seen-repository
  "A host key repository implemented in bb that records the keys added to
  the atom seen. Made in a function of its own: in babashka a multi-arity
  fn keeps every local of the function it is made in, so one made where
  the repository's own handle is bound would keep that handle, and so the
  repository, alive (see docs/migration.md)."
  [seen]
  (hkr/new {:add (fn [hk _] (swap! seen conj hk))
            :get-host-key (fn ([] @seen) ([_ _] @seen))}))

(defn make-garbage!
  "Makes objects of every lower-level kind and keeps none; returns how many
  handles it was given."
  []
  (let [n (atom 0) made (fn [x] (swap! n inc) x)]
    (dotimes [i 20]
      (let [kp (made (key-pair/generate nil :ed25519))
            blob (key-pair/get-public-key-blob kp)]
        (made (host-key/new "example.com" blob))
        (made (known-hosts/from-content (str "example.com ssh-ed25519 " (.encodeToString (java.util.Base64/getEncoder) blob) "\n")))
        (made (known-hosts/new (str "/tmp/bbssh-never-" i)))
        (let [ag (made (agent/new))]
          (agent/set-known-hosts ag known-hosts-file)
          (agent/add-identity ag identity-file)
          (made (agent/get-identity-repository ag))
          (made (agent/get-host-key-repository ag))
          (made (agent/get-session ag c/user c/host c/port)))
        (let [id (made (kp-identity kp))
              repo (made (idr/new {:get-identities (fn [] [id])}))]
          (doseq [h (idr/get-identities repo)] (made h)))
        (let [seen (atom [])
              repo (made (seen-repository seen))]
          (hkr/add repo (made (host-key/new "h" blob)) nil)
          (doseq [h (hkr/get-host-key repo)] (made h)))
        (let [cfg (made (config/new {:get-port (fn [] 2222)}))
              repo (made (config-repository/new {:get-config (fn [_] cfg)}))]
          (made (config-repository/get-config repo "x")))
        (made (config-repository/get-config
               (made (config-repository/openssh-config-string "Host x\n  Port 1\n")) "x"))
        (made (ssh-agent/new-identity-repository "/tmp/bbssh-no-such-agent.sock"))
        (made (ssh-agent/new-identity [blob "c"] "/tmp/bbssh-no-such-agent.sock"))))
    @n))

(deftest dropped-lower-handles-are-freed
  (let [baseline (registry/count)
        before (set (registry/handles))
        made (make-garbage!)
        peak (registry/count)
        ;; handles, not counts, are compared: an earlier test's dropped
        ;; handle may be freed meanwhile
        left #(remove before (registry/handles))]
    (println "made" made "lower-level handles; handles" baseline "->" peak)
    (is (>= peak (+ baseline 250)) "many objects were alive at first")
    (is (c/settle #(empty? (left)))
        (str "every handle made was freed, left: " (pr-str (take 10 (left)))))))

(defn banner [port]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (.readLine (io/reader (.getInputStream sock)))))

(defn session-of-a-dropped-agent
  "An unconnected session of an agent whose handle, like those of its bb
  identity repository and bb identity, is dropped on return. (Babashka
  keeps a let's locals until the enclosing function returns.)"
  []
  (let [ag (agent/new)]
    (agent/set-known-hosts ag known-hosts-file)
    (let [id (kp-identity (key-pair/load nil identity-file))]
      (agent/set-identity-repository ag (idr/new {:get-identities (fn [] [id])})))
    (agent/get-session ag c/user c/host c/port)))

(deftest agent-lives-while-its-session-does
  ;; Everything the session logs in with is made and dropped: the agent,
  ;; its bb identity repository and bb identity. The session connects only
  ;; after a collection, so it needs them all.
  (let [before (set (registry/handles))
        held (atom (session-of-a-dropped-agent))]
    (c/collect 2000)
    (is (= 1 (made-since before "agent")) "the agent is kept by its session")
    (is (= 1 (made-since before "identity-repository")) "and its repository")
    (is (= 1 (made-since before "identity")) "and the repository's identity")
    (session/connect @held 20000)
    (is (= c/user (-> (bbssh/exec @held "whoami" {:out :string}) deref :out str/trim))
        "the session logs in through them and runs a command")
    (let [port (session/set-port-forwarding-local @held {:local-port 0 :remote-host "127.0.0.1" :remote-port c/port})]
      (c/collect 1000)
      (is (str/starts-with? (banner port) "SSH-2.0-") "its forward works")
      (is (= 1 (made-since before "agent")))
      (session/delete-port-forwarding-local @held {:local-port port}))
    (testing "once the session is dropped, all of them are freed"
      (session/disconnect @held)
      (reset! held nil)
      (is (c/settle #(zero? (lower-made-since before))) (str (lower-made-since before) " left")))))

(defn session-with-a-bb-repository
  "An unconnected session given a bb identity repository (and, through
  it, a key pair) whose handles are dropped on return; signatures count
  in the atom signed."
  [signed]
  (bbssh/ssh c/host (-> (c/opts {:no-connect true})
                        (dissoc :identity)
                        (assoc :identity-repository
                               (let [kp (key-pair/load nil identity-file)]
                                 ;; a new bb identity each time: the repository keeps it
                                 (idr/new {:get-identities
                                           (fn [] [(identity/new
                                                    {:get-public-key-blob (fn [] (key-pair/get-public-key-blob kp))
                                                     :get-signature (fn [data & [alg]]
                                                                      (swap! signed inc)
                                                                      (Thread/sleep 200) ; room for a collection
                                                                      (key-pair/get-signature kp data alg))})])}))))))

(deftest bb-repository-lives-while-its-session-does
  (let [before (set (registry/handles))
        signed (atom 0)
        s (atom (session-with-a-bb-repository signed))]
    (c/collect 2000)
    (is (= 1 (made-since before "identity-repository")) "kept by the session")
    (let [gc (future (dotimes [_ 100] (System/gc) (Thread/sleep 20)))]
      (session/connect @s 20000)
      @gc)
    (is (pos? @signed) "the session signed through the bb identity")
    (is (= "ok\n" (-> (bbssh/exec @s "echo ok" {:out :string}) deref :out)))
    (c/collect 1000)
    (is (= 1 (made-since before "identity-repository")) "still kept")
    (session/disconnect @s)
    (reset! s nil)
    (is (c/settle #(zero? (lower-made-since before))) "freed with the session")))

(c/run-tests-and-exit 'e2e.cleaner-lower-test)
