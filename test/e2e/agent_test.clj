;; The lower-level namespaces below core/session: agent, identity,
;; identity-repository, ssh-agent, host-key-repository, known-hosts,
;; config and config-repository. Every public function is called, and
;; whatever a session is built from logs in to the real sshd.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.agent-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.edn :as edn]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.user-info :as user-info]
         '[pod.epiccastle.bbssh.agent :as agent]
         '[pod.epiccastle.bbssh.key-pair :as key-pair]
         '[pod.epiccastle.bbssh.host-key :as host-key]
         '[pod.epiccastle.bbssh.host-key-repository :as hkr]
         '[pod.epiccastle.bbssh.known-hosts :as known-hosts]
         '[pod.epiccastle.bbssh.identity :as identity]
         '[pod.epiccastle.bbssh.identity-repository :as idr]
         '[pod.epiccastle.bbssh.ssh-agent :as ssh-agent]
         '[pod.epiccastle.bbssh.config :as config]
         '[pod.epiccastle.bbssh.config-repository :as config-repository])

(def identity-file (c/env "BBSSH_TEST_IDENTITY"))
(def encrypted-file (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED"))
(def passphrase (c/env "BBSSH_TEST_PASSPHRASE"))
(def rsa-file (c/env "BBSSH_TEST_RSA_IDENTITY"))
(def known-hosts-file (c/env "BBSSH_TEST_KNOWN_HOSTS"))

(defn whoami
  "Connects the unconnected session s and runs `whoami`; releases s."
  [s]
  (try
    (session/connect s 20000)
    (-> (bbssh/exec s "whoami" {:out :string}) deref :out str/trim)
    (finally (pod.epiccastle.bbssh.pod.registry/release s))))

(defn test-agent
  "An agent that knows the test sshd's host keys."
  []
  (doto (agent/new) (agent/set-known-hosts known-hosts-file)))

(defn b64 [^bytes bs] (.encodeToString (java.util.Base64/getEncoder) bs))
(defn pub-blob [file] (.decode (java.util.Base64/getDecoder) ^String (second (str/split (slurp file) #"\s+"))))

(defn sh [env & args]
  (let [pb (doto (ProcessBuilder. ^java.util.List (vec args)) (.redirectErrorStream true))]
    (doseq [[k v] env] (.put (.environment pb) k v))
    (let [p (.start pb) out (slurp (.getInputStream p))]
      {:exit (.waitFor p) :out out})))

(deftest agent-identities-and-sessions
  (let [ag (test-agent)]
    (is (keyword? ag))
    (is (= [] (agent/get-identity-names ag)))
    (testing "add-identity [agent file]; every get-session arity"
      (agent/add-identity ag identity-file)
      (is (= [identity-file] (agent/get-identity-names ag)))
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (let [cr (config-repository/openssh-config-string
                (str "Host viaconfig\n  HostName " c/host "\n  Port " c/port "\n  User " c/user "\n"
                     "Host portonly\n  HostName " c/host "\n  Port " c/port "\n"))]
        (agent/set-config-repository ag cr)
        (is (= c/user (whoami (agent/get-session ag "viaconfig"))) "host, user and port from the config")
        (is (= c/user (whoami (agent/get-session ag c/user "portonly"))) "port from the config")
        (agent/set-config-repository ag nil)))
    (testing "a session of an agent without identities fails to log in"
      (agent/remove-all-identities ag)
      (is (= [] (agent/get-identity-names ag)))
      (is (= :bbssh/auth-failed (-> (ex #(whoami (agent/get-session ag c/user c/host c/port))) :data :type))))
    (testing "add-identity with a passphrase: right, wrong, as bytes; remove-identity by name"
      (is (= :bbssh/bad-key (-> (ex #(agent/add-identity ag encrypted-file "wrong")) :data :type)))
      (agent/add-identity ag encrypted-file passphrase)
      (is (= [encrypted-file] (agent/get-identity-names ag)))
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (agent/remove-identity ag encrypted-file)
      (agent/add-identity ag encrypted-file (str encrypted-file ".pub") (.getBytes ^String passphrase))
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (agent/remove-identity ag encrypted-file)
      (is (= [] (agent/get-identity-names ag))))
    (testing "an encrypted identity without its passphrase asks the session's user-info"
      (agent/add-identity ag encrypted-file)
      (let [asked (atom nil)
            s (agent/get-session ag c/user c/host c/port)]
        (session/set-user-info s (user-info/new {:get-passphrase (fn [] passphrase)
                                                 :prompt-passphrase (fn [m] (reset! asked m) true)}))
        (is (= c/user (whoami s)))
        (is (= (str "Passphrase for " encrypted-file) @asked)))
      (agent/remove-all-identities ag))
    (testing "add-identity [agent name private public passphrase], bytes and strings"
      (agent/add-identity ag "inline key" (.getBytes (slurp identity-file)) (slurp (str identity-file ".pub")) nil)
      (is (= ["inline key"] (agent/get-identity-names ag)))
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (agent/remove-identity ag "inline key")
      (agent/add-identity ag "encrypted inline" (slurp encrypted-file) nil passphrase)
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (agent/remove-all-identities ag))
    (testing "bad input"
      (is (= :bbssh/bad-key (-> (ex #(agent/add-identity ag "/nonexistent/key")) :data :type)))
      (is (= :bbssh/unknown-handle (-> (ex #(agent/get-session :bbssh/agent-999999 "h")) :data :type)))
      (is (= :bbssh/bad-option (-> (ex #(agent/get-session ag "u" "h" 70000)) :data :type))))))

(defn key-pair-identity
  "An identity implemented here, backed by key-pair functions, recording
  which of its functions the pod called."
  [kp calls]
  (identity/new {:get-public-key-blob (fn [] (swap! calls conj :get-public-key-blob) (key-pair/get-public-key-blob kp))
                 :get-signature (fn ([data] (swap! calls conj :get-signature) (key-pair/get-signature kp data))
                                  ([data alg] (swap! calls conj :get-signature) (key-pair/get-signature kp data alg)))
                 :get-alg-name (fn [] (swap! calls conj :get-alg-name) "ssh-ed25519")
                 :get-name (fn [] (swap! calls conj :get-name) "key in bb")
                 :is-encrypted (fn [] (swap! calls conj :is-encrypted) (key-pair/is-encrypted kp))
                 :set-passphrase (fn [p] (swap! calls conj :set-passphrase) (key-pair/decrypt kp p))
                 :clear (fn [] (swap! calls conj :clear) nil)}))

(deftest identities-implemented-in-bb
  (testing "an identity and a repository in bb sign the login to the real sshd"
    (let [ag (test-agent)
          calls (atom [])
          id (key-pair-identity (key-pair/load nil identity-file) calls)
          repo-calls (atom [])
          repo (idr/new {:get-name (fn [] "bb repo")
                         :get-status (fn [] :running)
                         :get-identities (fn [] (swap! repo-calls conj :get-identities) [id])
                         :add (fn [bs] (swap! repo-calls conj [:add (count bs)]) true)
                         :remove (fn [bs] (swap! repo-calls conj [:remove (count bs)]) true)
                         :removeAll (fn [] (swap! repo-calls conj :remove-all))})]
      (agent/set-identity-repository ag repo)
      (is (= repo (agent/get-identity-repository ag)) "the same handle for the same repository")
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (is (some #{:get-signature} @calls) "the pod signed through the bb function")
      (is (some #{:get-identities} @repo-calls))
      (testing "the identity functions reach the bb functions"
        (let [data (.getBytes "data to sign")]
          (is (= (seq (key-pair/get-public-key-blob (key-pair/load nil identity-file))) (seq (identity/get-public-key-blob id))))
          (is (= (seq (key-pair/get-signature (key-pair/load nil identity-file) data)) (seq (identity/get-signature id data))))
          (is (= (seq (key-pair/get-signature (key-pair/load nil identity-file) data "ssh-ed25519")) (seq (identity/get-signature id data "ssh-ed25519"))))
          (is (= "ssh-ed25519" (identity/get-alg-name id)))
          (is (= "key in bb" (identity/get-name id)))
          (is (false? (identity/is-encrypted id)))
          (is (true? (identity/set-passphrase id "unused")))
          (is (nil? (identity/clear id)))
          (is (every? (set @calls) [:get-alg-name :get-name :is-encrypted :set-passphrase :clear]))))
      (testing "the identity-repository functions reach the bb functions"
        (is (= "bb repo" (idr/get-name repo)))
        (is (= :running (idr/get-status repo)))
        (is (= [id] (idr/get-identities repo)))
        (is (true? (idr/add repo "key text")))
        (is (true? (idr/remove repo (byte-array 3))))
        (is (nil? (idr/remove-all repo)))
        (is (= ["key in bb"] (agent/get-identity-names ag)))
        (agent/remove-all-identities ag)
        (is (every? (set @repo-calls) [[:add 8] [:remove 3] :remove-all])))
      (testing "agent/add-identity and remove-identity go to a repository in bb"
        (agent/add-identity ag identity-file)
        (is (some #(and (vector? %) (= :add (first %)) (< 300 (second %))) @repo-calls) "the key file's contents")
        (agent/remove-identity ag "key in bb")
        (is (some #(= [:remove 51] %) @repo-calls) "the public key blob of the identity named"))))
  (testing "an encrypted identity in bb is decrypted through :set-passphrase"
    (let [ag (test-agent)
          calls (atom [])
          kp (key-pair/load nil encrypted-file)
          id (key-pair-identity kp calls)
          s (do (agent/set-identity-repository ag (idr/new {:get-identities (fn [] [id])}))
                (agent/get-session ag c/user c/host c/port))]
      (session/set-user-info s (user-info/new {:get-passphrase (fn [] passphrase)}))
      (is (= c/user (whoami s)))
      (is (some #{:set-passphrase} @calls))
      (is (false? (key-pair/is-encrypted kp)))))
  (testing "a bb identity added to the agent's own repository"
    (let [ag (test-agent)
          id (key-pair-identity (key-pair/load nil identity-file) (atom []))]
      (agent/add-identity ag id nil)
      (is (= ["key in bb"] (agent/get-identity-names ag)))
      (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
      (agent/remove-identity ag id)
      (is (= [] (agent/get-identity-names ag)))))
  (testing "the agent's own repository through identity-repository functions"
    (let [ag (agent/new)
          repo (agent/get-identity-repository ag)]
      (is (= repo (agent/get-identity-repository ag)))
      (is (= "Local Identity Repository" (idr/get-name repo)))
      (is (= :running (idr/get-status repo)))
      (is (true? (idr/add repo (slurp identity-file))))
      (let [[id] (idr/get-identities repo)]
        (is (= "ssh-ed25519" (identity/get-alg-name id)))
        (is (= (seq (pub-blob (str identity-file ".pub"))) (seq (identity/get-public-key-blob id)))))
      (is (true? (idr/remove repo (pub-blob (str identity-file ".pub")))))
      (is (= [] (idr/get-identities repo)))))
  (testing "a bb function that throws fails the login instead of hanging it"
    (let [ag (test-agent)
          id (identity/new {:get-public-key-blob (fn [] (throw (ex-info "token unplugged" {})))})]
      (agent/set-identity-repository ag (idr/new {:get-identities (fn [] [id])}))
      (let [e (ex #(whoami (agent/get-session ag c/user c/host c/port)))]
        (is (= :bbssh/auth-failed (-> e :data :type)))
        (is (str/includes? (:message e) "token unplugged")))))
  (testing "bad callbacks"
    (is (= :bbssh/bad-option (-> (ex #(identity/new {:sign (fn [])})) :data :type)))
    (is (= :bbssh/bad-option (-> (ex #(idr/new "not a map")) :data :type)))
    (is (= :bbssh/bad-option (-> (ex #(identity/new {:get-name "not a function"})) :data :type)))))

(deftest ssh-agent-repository
  (let [dir (n/temp-dir)
        sock (str dir "/agent.sock")
        proc (.start (ProcessBuilder. ["ssh-agent" "-D" "-a" sock]))]
    (try
      (is (n/wait-until 5000 #(.exists (io/file sock))))
      (is (zero? (:exit (sh {"SSH_AUTH_SOCK" sock} "ssh-add" identity-file))))
      (let [repo (ssh-agent/new-identity-repository sock)]
        (is (= "ssh-agent" (idr/get-name repo)))
        (is (= :running (idr/get-status repo)))
        (is (= :not-running (idr/get-status (ssh-agent/new-identity-repository (str dir "/none.sock")))))
        (let [[id :as ids] (idr/get-identities repo)]
          (is (= 1 (count ids)))
          (is (= "ssh-ed25519" (identity/get-alg-name id)))
          (is (= (str/trim (nth (str/split (slurp (str identity-file ".pub")) #" " 3) 2 ""))
                 (identity/get-name id))
              "the comment ssh-add gave it")
          (is (false? (identity/is-encrypted id)))
          (is (true? (identity/set-passphrase id "x")))
          (is (nil? (identity/clear id)))
          (testing "its signatures match the key file's (Ed25519 is deterministic)"
            (let [data (.getBytes "sign me")]
              (is (= (seq (key-pair/get-signature (key-pair/load nil identity-file) data))
                     (seq (identity/get-signature id data))))))
          (testing "new-identity signs through the agent too"
            (let [id2 (ssh-agent/new-identity [(identity/get-public-key-blob id) "by hand"] sock)]
              (is (= "by hand" (identity/get-name id2)))
              (is (= (seq (identity/get-signature id (.getBytes "x"))) (seq (identity/get-signature id2 (.getBytes "x"))))))))
        (testing "logging in: bbssh/ssh :identity-repository, an agent's repository, a session's"
          (is (= "ok\n" (-> (bbssh/ssh c/host (c/opts {:identity nil :identity-repository repo}))
                            (bbssh/exec "echo ok" {:out :string}) deref :out)))
          (let [ag (test-agent)]
            (agent/set-identity-repository ag repo)
            (is (= c/user (whoami (agent/get-session ag c/user c/host c/port)))))
          (let [s (bbssh/ssh c/host (c/opts {:identity nil :no-connect true}))]
            (session/set-identity-repository s repo)
            (is (= c/user (whoami s)))))
        (testing "add (an RSA PEM key), remove, remove-all; agent/add-identity into the ssh-agent"
          (is (true? (idr/add repo (slurp rsa-file))))
          (is (= 2 (count (idr/get-identities repo))))
          (is (re-find #"RSA" (:out (sh {"SSH_AUTH_SOCK" sock} "ssh-add" "-l"))))
          (is (true? (idr/remove repo (pub-blob (str rsa-file ".pub")))))
          (is (= 1 (count (idr/get-identities repo))))
          (is (nil? (idr/remove-all repo)))
          (is (= [] (idr/get-identities repo)))
          (let [ag (test-agent)]
            (agent/set-identity-repository ag repo)
            (agent/add-identity ag identity-file)
            (is (= 1 (count (agent/get-identity-names ag))))
            (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))))
            (agent/remove-all-identities ag)
            (is (= [] (agent/get-identity-names ag))))))
      (testing "a dead agent: :bbssh/agent-failed"
        (.destroy proc)
        (.waitFor proc)
        (is (= :bbssh/agent-failed (-> (ex #(idr/get-identities (ssh-agent/new-identity-repository sock))) :data :type))))
      (finally (.destroy proc)))))

(deftest known-hosts-repositories
  (let [ed (key-pair/generate nil :ed25519)
        blob (key-pair/get-public-key-blob ed)
        other (key-pair/get-public-key-blob (key-pair/generate nil :ed25519))
        ec-blob (key-pair/get-public-key-blob (key-pair/generate nil :ecdsa 256))
        hashed (str/trim (:out (let [f (str (n/temp-dir) "/kh")]
                                 (spit f (str "192.168.100.1 ssh-ed25519 " (b64 blob) "\n"))
                                 (sh {} "ssh-keygen" "-H" "-f" f)
                                 {:out (first (str/split-lines (slurp f)))})))
        content (str "# a comment line\n" hashed " some comment 🚀 \r\n")]
    (testing "agent/set-known-hosts-content: hashed entries, get-info, check, remove, add"
      (let [ag (agent/new)]
        (agent/set-known-hosts-content ag content)
        (let [repo (agent/get-host-key-repository ag)
              [hk :as hks] (hkr/get-host-key repo)]
          (is (= repo (agent/get-host-key-repository ag)))
          (is (= 1 (count hks)))
          (is (= {:host (first (str/split hashed #" ")) :type "ssh-ed25519" :key (b64 blob)
                  :finger-print (host-key/get-finger-print hk nil) :comment "some comment 🚀" :marker ""}
                 (host-key/get-info hk nil)))
          (is (nil? (hkr/get-known-hosts-repository-id repo)))
          (is (= :ok (hkr/check repo "192.168.100.1" blob)))
          (is (= :changed (hkr/check repo "192.168.100.1" other)))
          (is (= :not-included (hkr/check repo "192.168.100.1" ec-blob)))
          (is (= :not-included (hkr/check repo "192.168.100.2" blob)))
          (is (= 1 (count (hkr/get-host-key repo "192.168.100.1" "ssh-ed25519"))))
          (is (= [] (hkr/get-host-key repo "192.168.100.1" "ssh-rsa")))
          (hkr/remove repo "192.168.100.1" "ssh-ed25519" other)
          (is (= :ok (hkr/check repo "192.168.100.1" blob)) "another key given: nothing removed")
          (hkr/remove repo "192.168.100.1" "ssh-ed25519")
          (is (= :not-included (hkr/check repo "192.168.100.1" blob)))
          (is (= [] (hkr/get-host-key repo)))
          (hkr/add repo (host-key/new "host.domain" blob) (user-info/new {}))
          (hkr/add repo (host-key/new "10.0.0.1" :ecdsa256 ec-blob) nil)
          (hkr/add repo (host-key/new "10.0.0.1" :ed25519 blob "second") nil)
          (is (= 3 (count (hkr/get-host-key repo))))
          (is (= :ok (hkr/check repo "host.domain" blob)))
          (is (= :ok (hkr/check repo "10.0.0.1" ec-blob)))
          (is (= :ok (hkr/check repo "10.0.0.1" blob)))
          (hkr/remove repo "10.0.0.1" nil)
          (is (= 1 (count (hkr/get-host-key repo))))
          (testing "revoked keys"
            (hkr/add repo (host-key/new "@revoked" "*" :guess other "") nil)
            (is (= :revoked (hkr/check repo "anywhere" other)))))))
    (testing "a known_hosts file: written by add and remove, its id is the file"
      (let [f (str (n/temp-dir) "/dir/known_hosts")
            repo (known-hosts/new f)]
        (is (= f (hkr/get-known-hosts-repository-id repo)))
        (hkr/add repo (host-key/new "[example.com]:2222" blob) nil)
        (is (str/starts-with? (slurp f) (str "[example.com]:2222 ssh-ed25519 " (b64 blob))))
        (is (= :ok (hkr/check (known-hosts/new f) "[example.com]:2222" blob)) "another repository reads it back")
        (hkr/remove repo "[example.com]:2222" nil)
        (is (= "" (slurp f)))))
    (testing "sessions check server keys with a repository"
      (let [ag (agent/new)]
        (agent/add-identity ag identity-file)
        (agent/set-known-hosts-content ag (slurp known-hosts-file))
        (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))) "known from the content")
        (agent/set-host-key-repository ag (known-hosts/from-content ""))
        (let [s (agent/get-session ag c/user c/host c/port)]
          (session/set-config s :strict-host-key-checking "yes")
          (is (= :bbssh/host-key-unknown (-> (ex #(whoami s)) :data :type))))
        (let [repo (known-hosts/from-content "")
              s (agent/get-session ag c/user c/host c/port)]
          (agent/set-host-key-repository ag repo)
          (session/set-host-key-repository s repo)
          (session/set-config s :strict-host-key-checking "accept-new")
          (is (= c/user (whoami s)))
          (is (= 1 (count (hkr/get-host-key repo (str "[" c/host "]:" c/port) nil))) "the accepted key was recorded")
          (is (= c/user (whoami (agent/get-session ag c/user c/host c/port))) "and is known from then on"))
        (testing "a changed key is refused"
          (let [others {"ssh-ed25519" (b64 other) "ecdsa-sha2-nistp256" (b64 ec-blob)
                        "ssh-rsa" (b64 (pub-blob (str rsa-file ".pub")))}
                changed (str/replace (slurp known-hosts-file) #"(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) \S+"
                                     (fn [[_ t]] (str t " " (others t))))]
            (agent/set-known-hosts-content ag changed)
            (is (= :bbssh/host-key-changed (-> (ex #(whoami (agent/get-session ag c/user c/host c/port))) :data :type)))))))))

(deftest host-key-repository-in-bb
  (let [seen (atom {})
        calls (atom [])
        key-of (fn [hk] (.decode (java.util.Base64/getDecoder) ^String (host-key/get-key hk)))
        repo (hkr/new {:check (fn [host key]
                                (swap! calls conj [:check host])
                                (if-let [k (@seen host)] (if (= (seq k) (seq key)) :ok :changed) :not-included))
                       :add (fn [hk ui] (swap! calls conj [:add ui]) (swap! seen assoc (host-key/get-host hk) (key-of hk)))
                       :remove (fn ([host type] (swap! calls conj [:remove host type]) (swap! seen dissoc host))
                                 ([host type key] (swap! calls conj [:remove host type (count key)]) (swap! seen dissoc host)))
                       :get-host-key (fn ([] (mapv (fn [[h k]] (host-key/new h k)) @seen))
                                       ([host type] (swap! calls conj [:get-host-key host type]) []))
                       :get-known-hosts-repository-id (fn [] "bb repository")})
        hostport (str "[" c/host "]:" c/port)]
    (testing "bbssh/ssh :host-key-repository: accept-new records through :add, then :check says :ok"
      (let [s (bbssh/ssh c/host (c/opts {:host-key-repository repo :strict-host-key-checking :accept-new}))]
        (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out))))
      (is (some #{[:check hostport]} @calls))
      (is (contains? @seen hostport))
      (let [s (bbssh/ssh c/host (c/opts {:host-key-repository repo :strict-host-key-checking true}))]
        (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))))
    (testing "a :changed answer is refused"
      (swap! seen assoc hostport (key-pair/get-public-key-blob (key-pair/generate nil :ed25519)))
      (is (= :bbssh/host-key-changed
             (-> (ex #(bbssh/ssh c/host (c/opts {:host-key-repository repo}))) :data :type))))
    (testing "the host-key-repository functions reach the bb functions"
      (let [blob (key-pair/get-public-key-blob (key-pair/generate nil :ed25519))]
        (is (= :not-included (hkr/check repo "nowhere" blob)))
        (hkr/add repo (host-key/new "h1" blob) nil)
        (is (= :ok (hkr/check repo "h1" blob)))
        (is (some #(= [:add nil] %) @calls))
        (is (= #{"h1" hostport} (set (map host-key/get-host (hkr/get-host-key repo)))))
        (is (= [] (hkr/get-host-key repo "h1" "ssh-ed25519")))
        (hkr/remove repo "h1" "ssh-ed25519")
        (hkr/remove repo hostport "ssh-ed25519" blob)
        (is (= [[:remove "h1" "ssh-ed25519"] [:remove hostport "ssh-ed25519" 51]]
               (filter #(= :remove (first %)) @calls)))
        (is (= "bb repository" (hkr/get-known-hosts-repository-id repo)))))
    (testing "an answer that is not a status is an error"
      (let [bad (hkr/new {:check (fn [_ _] "yes")})]
        (is (= :bbssh/error (-> (ex #(hkr/check bad "h" (key-pair/get-public-key-blob (key-pair/generate nil :ed25519)))) :data :type)))))))

(deftest configs
  (let [text (str "Port 9876\n"
                  "Host docker-host\n  User root\n  Hostname localhost\n  IdentityFile ~/.ssh/a\n  IdentityFile ~/.ssh/b\n"
                  "  LocalForward 8080 db:5432\n"
                  "Host *\n  ConnectTimeout 30\n  # a comment\n  PreferredAuthentications keyboard-interactive,password,publickey\n")
        f (str (n/temp-dir) "/config")
        _ (spit f text)]
    (doseq [repo [(config-repository/openssh-config-string text)
                  (config-repository/openssh-config-file f)
                  (config-repository/openssh-config-file (io/file f))]]
      (let [cfg (config-repository/get-config repo "docker-host")
            other (config-repository/get-config repo "elsewhere")]
        (is (= cfg (config-repository/get-config repo "docker-host")) "the same handle for the same host")
        (is (= "localhost" (config/get-hostname cfg)))
        (is (= "root" (config/get-user cfg)))
        (is (= 9876 (config/get-port cfg)))
        (is (= "30" (config/get-value cfg "ConnectTimeout") (config/get-value cfg "connecttimeout") (config/get-value cfg :ConnectTimeout)))
        (is (= ["~/.ssh/a" "~/.ssh/b"] (config/get-values cfg "IdentityFile")))
        (is (= ["8080 db:5432"] (config/get-values cfg "LocalForward")))
        (is (= (config/get-values cfg "IdentityFile") (edn/read-string (pr-str (config/get-values cfg "IdentityFile")))) "EDN-printable")
        (is (nil? (config/get-hostname other)))
        (is (nil? (config/get-user other)))
        (is (nil? (config/get-value other "ProxyJump")))
        (is (nil? (config/get-values other "IdentityFile")))
        (is (keyword? (edn/read-string (pr-str cfg))))))
    (testing "bad input"
      (is (= :bbssh/bad-option (-> (ex #(config-repository/openssh-config-file "/nonexistent/config")) :data :type)))
      (is (= -1 (config/get-port (config-repository/get-config (config-repository/openssh-config-string "Host x\n") "x")))))))

(deftest configs-in-bb-and-agent-sessions
  (let [dir (n/temp-dir)
        asked (atom [])
        cfg (config/new {:get-hostname (fn [] c/host)
                         :get-user (fn [] c/user)
                         :get-port (fn [] c/port)
                         :get-value (fn [k] (swap! asked conj k)
                                      (get {"StrictHostKeyChecking" "yes" "UserKnownHostsFile" known-hosts-file} k))
                         :get-values (fn [k] (swap! asked conj k) (when (= k "IdentityFile") [identity-file]))})
        hosts (atom [])
        repo (config-repository/new {:get-config (fn [host] (swap! hosts conj host) cfg)})
        ag (agent/new)]
    (is (nil? (agent/get-config-repository ag)))
    (agent/set-config-repository ag repo)
    (is (= repo (agent/get-config-repository ag)))
    (testing "a session of the agent takes host, user, port, IdentityFile, known hosts from the bb config"
      (is (= c/user (whoami (agent/get-session ag "anything"))))
      (is (= ["anything"] @hosts))
      (is (every? (set @asked) ["IdentityFile" "StrictHostKeyChecking" "UserKnownHostsFile" "ProxyJump"])))
    (testing "config functions on the bb config and repository"
      (is (= cfg (config-repository/get-config repo "x")))
      (is (= c/host (config/get-hostname cfg)))
      (is (= c/user (config/get-user cfg)))
      (is (= c/port (config/get-port cfg)))
      (is (= "yes" (config/get-value cfg "StrictHostKeyChecking")))
      (is (= [identity-file] (config/get-values cfg "IdentityFile"))))
    (testing "a config saying StrictHostKeyChecking yes with no known key refuses"
      (let [strict (config/new {:get-hostname (fn [] c/host) :get-port (fn [] c/port) :get-user (fn [] c/user)
                                :get-value {"StrictHostKeyChecking" "yes"}})]
        (agent/set-config-repository ag (config-repository/new {:get-config (fn [_] strict)}))
        (agent/add-identity ag identity-file)
        (is (= :bbssh/host-key-unknown (-> (ex #(whoami (agent/get-session ag "x"))) :data :type)))))
    (agent/set-config-repository ag nil)
    (is (nil? (agent/get-config-repository ag)))))

(deftest global-config-and-debug-fn
  (let [dir (n/temp-dir)]
    (testing "get-config / set-config: defaults of new sessions"
      (is (= "ask" (agent/get-config "StrictHostKeyChecking")))
      (is (str/includes? (agent/get-config :cipher) "aes128-gcm@openssh.com"))
      (try
        (agent/set-config "StrictHostKeyChecking" "no")
        (agent/set-config {"cipher" "aes256-ctr"})
        (is (= "no" (agent/get-config "StrictHostKeyChecking")))
        (is (= "aes256-ctr" (agent/get-config "cipher")))
        (let [s (bbssh/ssh c/host (c/opts {:known-hosts (str dir "/kh") :silence-messages true}))]
          (is (= "aes256-ctr" (session/get-config s "cipher")) "bbssh/ssh sessions take the defaults")
          (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)) "unknown host key accepted (no)"))
        (let [s (bbssh/ssh c/host (c/opts {:known-hosts (str dir "/kh2") :strict-host-key-checking true :no-connect true}))]
          (is (= "yes" (session/get-config s "StrictHostKeyChecking")) "a session's own setting wins"))
        (finally
          (agent/set-config "StrictHostKeyChecking" "ask")
          (agent/set-config :cipher (str/join "," ["aes128-gcm@openssh.com" "aes256-gcm@openssh.com" "chacha20-poly1305@openssh.com" "aes128-ctr" "aes192-ctr" "aes256-ctr"]))))
      (is (= :bbssh/bad-option (-> (ex #(agent/set-config "NoSuchKey" "x")) :data :type)))
      (is (= :bbssh/bad-option (-> (ex #(agent/set-config "StrictHostKeyChecking" "maybe")) :data :type))))
    (testing "set-debug-fn logs sessions without a :debug-fn of their own, until nil"
      (let [log (atom [])]
        (agent/set-debug-fn (fn [level message] (swap! log conj [level message])))
        (try
          (let [ag (test-agent)]
            (agent/add-identity ag identity-file)
            (is (= c/user (whoami (agent/get-session ag c/user c/host c/port)))))
          (is (n/wait-until 5000 #(some (fn [[_ m]] (str/includes? m "authenticated")) @log)))
          (is (every? #(<= 0 (first %) 3) @log))
          (finally (agent/set-debug-fn nil)))
        (let [n (count @log)
              ag (test-agent)]
          (agent/add-identity ag identity-file)
          (whoami (agent/get-session ag c/user c/host c/port))
          (Thread/sleep 200)
          (is (= n (count @log)) "nothing after set-debug-fn nil"))))))

(deftest ssh-with-an-agent
  (let [ag (test-agent)]
    (agent/add-identity ag identity-file)
    (testing "bbssh/ssh :agent uses its identities and its known hosts"
      (let [s (bbssh/ssh c/host {:agent ag :port c/port :username c/user :no-agent true :identities-only true
                                 :config-file false})]
        (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))))
    (is (= :bbssh/unknown-handle (-> (ex #(bbssh/ssh c/host {:agent :bbssh/agent-999999})) :data :type)))))

(c/run-tests-and-exit 'e2e.agent-test)
